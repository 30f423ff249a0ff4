"""An ONNX graph's intermediate tensors made visible: each module's output added as a graph output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeship.numerics.names import DEQUANTIZED_SUFFIX, module_outputs, onnx_scope

FLOAT_TYPES = (1, 10, 16)  # float, float16, bfloat16
CONV_WEIGHT_INPUT = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}
QUANTIZERS = ("QuantizeLinear", "DynamicQuantizeLinear")
"""Ops whose outputs are an activation's quantized copy, scale and zero point, not a layer's output."""


def onnx_module_outputs(path: Path) -> tuple[dict[str, str], dict[str, tuple[float, int, str]]]:
    """Alignment key -> the tensor that is that module's output (the dequantized copy where a Q/DQ pair
    follows it), and the scale, zero point and type of the Q/DQ-quantized ones."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path), load_external_data=False)
    types = _tensor_types(model)
    produced = [o for node in model.graph.node if node.op_type not in QUANTIZERS for o in node.output if o]
    dequantized = {o for node in model.graph.node for o in node.output if o.endswith(DEQUANTIZED_SUFFIX)}
    floats = [
        name
        for name in produced
        if types.get(name, 1) in FLOAT_TYPES and not name.endswith(DEQUANTIZED_SUFFIX)
    ]
    weights = _weight_names(model)
    unfinished = _modules_before_their_bias(model, weights)
    floats = [name for name in floats if _raw_scope(name) not in unfinished]
    scopes = {name: onnx_scope(name) for name in floats}
    scopes.update(_scopes_from_weights(model, weights, {name for name in floats if scopes[name] is None}))
    chosen = module_outputs(floats, scopes)
    chosen = {
        k: (t + DEQUANTIZED_SUFFIX if t + DEQUANTIZED_SUFFIX in dequantized else t) for k, t in chosen.items()
    }
    initializers = {init.name: init for init in model.graph.initializer}
    quantization = {}
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.output[0] in dequantized and len(node.input) == 3:
            scale, zero_point = (initializers.get(name) for name in node.input[1:])
            if scale is not None and zero_point is not None and numpy_helper.to_array(scale).size == 1:
                point = numpy_helper.to_array(zero_point)
                quantization[node.output[0]] = (
                    float(numpy_helper.to_array(scale)),
                    int(point),
                    point.dtype.name,
                )
    return chosen, quantization


def _weight_names(model: Any) -> dict[str, str]:
    """Tensor -> the initializer it is: itself, or the weight a DequantizeLinear reads (QDQ graphs)."""
    weights = {init.name: init.name for init in model.graph.initializer}
    weights.update(
        {
            node.output[0]: node.input[0]
            for node in model.graph.node
            if node.op_type == "DequantizeLinear" and node.input[0] in weights
        }
    )
    return weights


def _modules_before_their_bias(model: Any, weights: dict[str, str]) -> set[str]:
    """Modules whose PyTorch output never exists as a tensor here, because an export step moved work across
    module boundaries: ORT's fusions move a Linear's bias into the next op (SkipLayerNormalization,
    BiasGelu, which read `<module>.bias` beside the MatMul output), and torch.onnx.export folds a
    BatchNorm into the Conv before it (that Conv's weight is then a computed `onnx::Conv_N` constant)."""
    unfinished = set()
    for node in model.graph.node:
        owners = {
            weights[name].removesuffix(".bias")
            for name in node.input
            if weights.get(name, "").endswith(".bias")
        }
        owners.discard(_raw_scope(node.output[0]))  # the bias added inside its own module: finished there
        unfinished |= {_raw_scope(name) for name in node.input if name.startswith("/")} & owners
        weight = node.input[CONV_WEIGHT_INPUT[node.op_type]] if node.op_type in CONV_WEIGHT_INPUT else ""
        if weights.get(weight, "").startswith("onnx::") and node.output[0].startswith("/"):
            unfinished.add(_raw_scope(node.output[0]))
    return unfinished


def _raw_scope(tensor: str) -> str:
    """`/model/bert/encoder/layer.0/attention/output/dense/MatMul_output_0` -> the parameter-style path
    `model.bert.encoder.layer.0.attention.output.dense`."""
    return ".".join(tensor.split("/")[1:-1])


def _scopes_from_weights(model: Any, weights: dict[str, str], unscoped: set[str]) -> dict[str, str]:
    """Scopes for the outputs of fused ops that lost theirs (ORT's EmbedLayerNormalization): the module
    that owns the parameters the op reads (`model.bert.embeddings.word_embeddings.weight`, ...)."""
    scopes = {}
    for node in model.graph.node:
        if not node.output or node.output[0] not in unscoped:
            continue
        parameters = [weights[name].split(".")[:-1] for name in node.input if "." in weights.get(name, "")]
        owner = _common_prefix(parameters) if parameters else []
        if owner:
            scopes[node.output[0]] = ".".join(owner)
    return scopes


def _common_prefix(paths: list[list[str]]) -> list[str]:
    prefix = []
    for parts in zip(*paths, strict=False):
        if len(set(parts)) != 1:
            break
        prefix.append(parts[0])
    return prefix


def expose_tensors(source: Path, destination: Path, tensors: list[str]) -> None:
    """Write `source` with `tensors` added to its graph outputs (their types from shape inference)."""
    import onnx

    model = onnx.load(str(source))
    types = _tensor_types(model)
    present = {output.name for output in model.graph.output}
    for name in tensors:
        if name not in present:
            model.graph.output.append(onnx.helper.make_tensor_value_info(name, types.get(name, 1), None))
    onnx.save(model, str(destination))


def _tensor_types(model: Any) -> dict[str, int]:
    """Element type of every tensor ONNX's shape inference can type (contrib ops' outputs are not)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    values = [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]
    return {value.name: value.type.tensor_type.elem_type for value in values}
