"""ONNX int4 weight-only quantization: MatMulNBits (ONNX Runtime) or block DequantizeLinear (TensorRT)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgeship.compress.quantize.registry import CalibrationBatches
from edgeship.compress.quantize.spec import QuantizationSpec
from edgeship.errors import DataError, EdgeshipError

MIN_EMBEDDING_ROWS = 1024
"""A constant Gather table with this many rows or more is a vocabulary worth 4 bits; smaller ones (token
types, a few hundred positions) cost little as float."""


def excluded_nodes(spec: QuantizationSpec) -> list[str]:
    """keep_float names plus the names ORT's quantizers give a Gemm after rewriting it as MatMul + Add."""
    return [name for layer in spec.keep_float for name in (layer, f"{layer}_MatMul")]


INT4_OPSET = 21
"""The ONNX opset whose types include int4 (GatherBlockQuantized's embedding tables)."""


def quantize_int4(
    source: Path, destination: Path, spec: QuantizationSpec, calibration: CalibrationBatches | None = None
) -> dict[str, Any]:
    """Write `source` with its weights as 4-bit blocks: MatMulNBits and GatherBlockQuantized (embeddings)
    for ONNX Runtime, block Q/DQ MatMuls for TensorRT.

    ONNX Runtime's fused EmbedLayerNormalization and Attention hold the embedding table and the packed QKV
    projection as inputs no weight-only quantizer reads, so for ONNX Runtime they are first rewritten as
    the Gather / MatMul (+ LayerNormalization / MultiHeadAttention) they fused; those in keep_float stay.
    """
    import onnx
    from onnxruntime.quantization import QuantFormat
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        GPTQWeightOnlyQuantConfig,
        HQQWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    tensorrt = spec.target_runtime == "tensorrt"
    hqq, gptq = spec.int4_algorithm == "hqq", spec.int4_algorithm == "gptq"
    if tensorrt and (hqq or gptq or not spec.symmetric):
        raise EdgeshipError(
            "int4 for TensorRT must be symmetric round-to-nearest (TensorRT takes no int4 zero points)",
            hint="drop --int4-algorithm hqq/gptq and --no-symmetric with --target-runtime tensorrt",
        )
    if gptq and not calibration:
        raise DataError(
            "int4-weight with --int4-algorithm gptq needs calibration samples and none were given",
            hint="pass --calibration-data FILE (CSV/JSONL or image folder) with real task samples",
        )
    model = onnx.load(str(source))
    # TensorRT reads neither com.microsoft ops nor GatherBlockQuantized: its graph keeps them as they are
    unfused = {} if tensorrt else unfuse_for_weight_only(model, spec.keep_float)
    _check_block_size(model, spec)
    tables = not tensorrt and bool(_embedding_gathers(model, spec.block_size))
    if tables:  # int4 GatherBlockQuantized needs opset 21; raising it by hand breaks older ops' forms
        converted = _at_opset_21(model)
        tables, model = converted is not None, converted if converted is not None else model
    symmetric = spec.symmetric and not hqq  # HQQ blocks always carry zero points
    excluded = excluded_nodes(spec)
    # accuracy_level 4 (int8 compute) is what makes int4 faster than fp32 on CPUs; TensorRT reads int4
    # weights as block DequantizeLinear (opset 21) instead of ONNX Runtime's MatMulNBits.
    algorithm: Any = None
    if hqq:
        algorithm = HQQWeightOnlyQuantConfig(block_size=spec.block_size, bits=4)
    elif gptq:
        _name_every_node(model)  # its model wrapper keys nodes by name and drops the unnamed
        algorithm = GPTQWeightOnlyQuantConfig(calibration_data_reader=_Feeds(calibration or []))
    quantizer = MatMulNBitsQuantizer(
        model,
        bits=4,
        block_size=spec.block_size,
        is_symmetric=symmetric,
        accuracy_level=None if tensorrt else 4,
        nodes_to_exclude=excluded,
        algo_config=algorithm,
        quant_format=QuantFormat.QDQ if tensorrt else QuantFormat.QOperator,
    )
    quantizer.process()
    model = quantizer.model.model
    embeddings = _embedding_gathers(model, spec.block_size) if tables else []
    if embeddings:
        # HQQ has no Gather path (its float zero points do not fit GatherBlockQuantized): the tables take
        # round-to-nearest blocks, symmetric unless --no-symmetric
        others = [
            node.name for node in model.graph.node if node.op_type == "Gather" and node not in embeddings
        ]
        gathers = MatMulNBitsQuantizer(
            model,
            algo_config=DefaultWeightOnlyQuantConfig(
                block_size=spec.block_size,
                is_symmetric=spec.symmetric,
                op_types_to_quantize=("Gather",),
                quant_axes=(("Gather", 1),),
            ),
            nodes_to_exclude=excluded + others,
        )
        gathers.process()
        model = gathers.model.model
    onnx.save(model, str(destination))
    if tensorrt:
        return {"quant_format": "QDQ", "bits": 4}
    return {
        "quant_format": "MatMulNBits",
        "accuracy_level": 4,
        "bits": 4,
        "embeddings": "GatherBlockQuantized" if embeddings else "float",
        "unfused": unfused,
    }


class _Feeds:
    """Calibration feeds as onnxruntime's GPTQ reads them: iterated afresh from a deep copy."""

    def __init__(self, batches: CalibrationBatches) -> None:
        self._batches = list(batches)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._batches)


def _name_every_node(model: Any) -> None:
    """Give each unnamed node a name of its own (exporters leave Casts unnamed)."""
    taken = {node.name for node in model.graph.node}
    for index, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_unnamed_{index}"
            while node.name in taken:
                node.name += "_"
            taken.add(node.name)


def _at_opset_21(model: Any) -> Any | None:
    """`model` converted to ONNX opset 21 by ONNX's version converter (ReduceMean's axes become an input,
    ...), or None where the converter cannot convert it."""
    from onnx import version_converter

    if next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0) >= INT4_OPSET:
        return model
    try:
        converted = version_converter.convert_version(model, INT4_OPSET)
    except Exception:  # the converter raises bare RuntimeErrors for ops it has no adapter for
        return None
    # the converter's shape inference annotates sizes after data-dependent ops (Longformer's global
    # attention) from the traced example; onnxruntime would trust them
    del converted.graph.value_info[:]
    return converted


def unfuse_for_weight_only(model: Any, keep_float: tuple[str, ...] = ()) -> dict[str, int]:
    """Rewrite ONNX Runtime's fused EmbedLayerNormalization as Gathers + LayerNormalization, and its fused
    Attention as a packed-QKV MatMul + Split + MultiHeadAttention, in place; returns how many of each.

    Only the forms whose semantics are plain are rewritten (no past state, rotary, unidirectional or
    uneven QKV sizes; a mask that comes from a rewritten EmbedLayerNormalization or none); the rest stay.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    outputs = {output.name for output in graph.output}

    def attributes(node: Any) -> dict[str, Any]:
        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def given(node: Any, index: int) -> str:
        return node.input[index] if len(node.input) > index else ""

    # EmbedLayerNormalization: input_ids, segment_ids, word, position, segment tables, gamma, beta, mask,
    # position_ids -> output, mask_index (the number of unmasked tokens per row), embedding_sum
    raw_masks: dict[str, str] = {}  # a rewritten mask_index -> the 2-D int32 mask it was summed from
    embed_layer_norms = []
    for node in graph.node:
        if node.op_type != "EmbedLayerNormalization" or node.domain != "com.microsoft":
            continue
        mask_index = node.output[1] if len(node.output) > 1 else ""
        if mask_index and given(node, 7):
            raw_masks[mask_index] = given(node, 7)
        if node.name in keep_float or given(node, 2) not in weights or not given(node, 3):
            continue
        if mask_index and (consumers.get(mask_index) or mask_index in outputs) and not given(node, 7):
            continue  # a mask index without a mask: left to the fused kernel
        embed_layer_norms.append(node)

    # Attention: input, weights [D_in, 3D], bias [3D], mask_index -> output
    attentions = []
    for node in graph.node:
        if node.op_type != "Attention" or node.domain != "com.microsoft" or node.name in keep_float:
            continue
        extra = attributes(node).keys() - {"num_heads", "mask_filter_value", "scale", "unidirectional"}
        if extra or attributes(node).get("unidirectional", 0) or len(node.input) > 4 or len(node.output) > 1:
            continue
        if given(node, 1) not in weights or (given(node, 2) and given(node, 2) not in weights):
            continue
        shape = list(weights[given(node, 1)].dims)
        if len(shape) != 2 or shape[1] % 3 or (given(node, 3) and given(node, 3) not in raw_masks):
            continue
        attentions.append(node)

    if not embed_layer_norms and not attentions:
        return {}
    rewritten: dict[int, list[Any]] = {}  # id(node) -> the nodes that replace it
    extra_initializers = []
    for node in attentions:
        name, hidden = node.name or "Attention", weights[given(node, 1)].dims[1] // 3
        sizes = numpy_helper.from_array(np.asarray([hidden] * 3, dtype="int64"), f"{name}_qkv_split_sizes")
        extra_initializers.append(sizes)
        qkv = [f"{name}_{part}" for part in ("q", "k", "v")]
        mask = raw_masks.get(given(node, 3), "")
        kept = {k: v for k, v in attributes(node).items() if k in ("num_heads", "mask_filter_value", "scale")}
        mha_inputs = [*qkv, given(node, 2), mask] if mask else [*qkv, given(node, 2)]
        rewritten[id(node)] = [
            helper.make_node(
                "MatMul", [node.input[0], given(node, 1)], [f"{name}_qkv"], name=f"{name}_qkv_MatMul"
            ),
            helper.make_node("Split", [f"{name}_qkv", sizes.name], qkv, name=f"{name}_qkv_Split", axis=-1),
            helper.make_node(
                "MultiHeadAttention", mha_inputs, [node.output[0]], name=name, domain="com.microsoft", **kept
            ),
        ]
        for input_name in node.input[3:4]:
            consumers[input_name] -= 1

    for node in embed_layer_norms:
        name = node.name or "EmbedLayerNormalization"
        ids, segments, word, position, segment_table, gamma, beta, mask, position_ids = (
            given(node, i) for i in range(9)
        )
        epsilon = attributes(node).get("epsilon", 1e-12)
        nodes = [helper.make_node("Gather", [word, ids], [f"{name}_word"], name=f"{name}_word_Gather")]
        terms = [f"{name}_word"]
        if position_ids:
            nodes.append(
                helper.make_node(
                    "Gather", [position, position_ids], [f"{name}_position"], name=f"{name}_position_Gather"
                )
            )
        else:  # positions 0 .. S-1: the first S rows of the table, broadcast over the batch
            zero = numpy_helper.from_array(np.zeros(1, dtype="int64"), f"{name}_zero")
            extra_initializers.append(zero)
            nodes += [
                helper.make_node("Shape", [ids], [f"{name}_length"], name=f"{name}_Shape", start=1, end=2),
                helper.make_node(
                    "Slice",
                    [position, zero.name, f"{name}_length", zero.name],
                    [f"{name}_position"],
                    name=f"{name}_position_Slice",
                ),
            ]
        terms.append(f"{name}_position")
        if segments and segment_table:
            nodes.append(
                helper.make_node(
                    "Gather", [segment_table, segments], [f"{name}_segment"], name=f"{name}_segment_Gather"
                )
            )
            terms.append(f"{name}_segment")
        total = terms[0]
        for index, term in enumerate(terms[1:]):
            out = f"{name}_sum" if index == len(terms) - 2 else f"{name}_sum_{index}"
            nodes.append(helper.make_node("Add", [total, term], [out], name=f"{name}_Add_{index}"))
            total = out
        nodes.append(
            helper.make_node(
                "LayerNormalization",
                [total, gamma, beta],
                [node.output[0]],
                name=f"{name}_LayerNorm",
                axis=-1,
                epsilon=epsilon,
            )
        )
        if len(node.output) > 2 and node.output[2]:
            nodes.append(helper.make_node("Identity", [total], [node.output[2]], name=f"{name}_sum_Identity"))
        mask_index = node.output[1] if len(node.output) > 1 else ""
        if mask_index and (consumers.get(mask_index) or mask_index in outputs):
            axes = numpy_helper.from_array(np.ones(1, dtype="int64"), f"{name}_axes")
            extra_initializers.append(axes)
            nodes.append(
                helper.make_node(
                    "ReduceSum", [mask, axes.name], [mask_index], name=f"{name}_mask_index", keepdims=0
                )
            )
        rewritten[id(node)] = nodes

    new_nodes = [n for node in graph.node for n in rewritten.get(id(node), [node])]
    del graph.node[:]
    graph.node.extend(new_nodes)
    graph.initializer.extend(extra_initializers)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    del graph.value_info[:]  # shapes of the removed fused outputs no longer hold
    counts = {"EmbedLayerNormalization": len(embed_layer_norms), "Attention": len(attentions)}
    return {op: count for op, count in counts.items() if count}


def _embedding_gathers(model: Any, block_size: int) -> list[Any]:
    """Gathers that look rows up in a float table of a vocabulary's size (along axis 0)."""
    from onnx import TensorProto, helper

    tables = {
        init.name: init
        for init in model.graph.initializer
        if init.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16)
        and len(init.dims) == 2
    }
    found = []
    for node in model.graph.node:
        if node.op_type != "Gather" or node.input[0] not in tables:
            continue
        axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 0)
        rows, columns = tables[node.input[0]].dims
        if axis == 0 and rows >= MIN_EMBEDDING_ROWS and columns % block_size == 0:
            found.append(node)
    return found


def _check_block_size(model: Any, spec: QuantizationSpec) -> None:
    """Refuse a block size that does not divide a quantized weight's input dimension."""
    from onnx import numpy_helper

    weights = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.name in spec.keep_float or node.input[1] not in weights:
            continue
        rows = numpy_helper.to_array(weights[node.input[1]]).shape[0]
        if rows % spec.block_size:
            raise EdgeshipError(
                f"block size {spec.block_size} does not divide layer {node.name}'s input dimension {rows}",
                hint="choose --block-size 32, 64 or 128 that divides it, or keep that layer float",
            )
