"""Graph rewrites around onnxruntime.quantization that keep int8 CNNs accurate.

- `fold_shape_arithmetic`: shape computations whose inputs are static dimensions become constants.
  timm's TF-ported models ("same" padding, Conv2dSame / F.pad) export their pad amounts as float
  arithmetic on Shape outputs (Cast, Div, Ceil, Sub, Mul, Add, Clip); int8-static quantizes those Mul/Add
  like activations, rounding pads by a pixel and changing every later feature map's size.
- `fold_pads_into_convs`: a zero constant spatial Pad feeding only Convs becomes the Convs' `pads`.
- `shape_arithmetic_nodes`: nodes computing on shape values that stay dynamic (not to be quantized).
- `per_channel_conv_integer`: onnxruntime's dynamic quantizer gives ConvInteger one weight scale per
  tensor whatever `per_channel` says; with batch norm folded into the weights, output channels' ranges
  differ by 1000x (EfficientNet-Lite's stem), which rounds the small channels' weights to zero.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

SMALL = 4096
"""Largest constant (elements) folded: shape arithmetic, not weights."""
SHAPE_OPS = ("Shape", "Size")
UNFOLDABLE = (
    "RandomNormal",
    "RandomNormalLike",
    "RandomUniform",
    "RandomUniformLike",
    "Multinomial",
    "Bernoulli",
)


def fold_shape_arithmetic(model: Any, max_rounds: int = 64) -> int:
    """Replace the nodes that compute on static shapes (and small constants) with initializers, in
    place; returns how many nodes were folded.

    Only for graphs whose inputs are static but for the batch (images at the exported size): elsewhere
    sizes inferred from one example are not those of every input. Repeats until nothing folds: a folded
    pad amount lets shape inference size the tensors after it.
    """
    if not _static_but_batch(model.graph):
        return 0
    total = 0
    for _ in range(max_rounds):
        folded = _fold_once(model)
        if not folded:
            break
        total += folded
    return total


def _fold_once(model: Any) -> int:
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    overridable = {value.name for value in graph.input}  # initializers listed as inputs can be fed
    constants: dict[str, np.ndarray] = {
        init.name: numpy_helper.to_array(init) for init in graph.initializer if init.name not in overridable
    }
    constants[""] = None  # type: ignore[assignment]  # an omitted optional input
    dims = _static_dims(model)
    partial: dict[str, list[int | None]] = {}  # shape vectors with some dimensions unknown
    folded: list[Any] = []
    for node in graph.node:
        values = _fold_node(node, constants, dims, partial, model)
        if values is None:
            continue
        folded.append(node)
        constants.update(zip(node.output, values, strict=True))
    if not folded:
        return 0
    folded_ids = {id(node) for node in folded}
    kept = [node for node in graph.node if id(node) not in folded_ids]
    needed = {name for node in kept for name in node.input} | {output.name for output in graph.output}
    existing = {init.name for init in graph.initializer}
    for node in folded:
        for name in node.output:
            if name in needed and name not in existing:
                graph.initializer.append(numpy_helper.from_array(np.asarray(constants[name]), name))
    del graph.node[:]
    graph.node.extend(kept)
    _drop_unused_initializers(graph)
    onnx.checker.check_model(model)
    return len(folded)


def _static_but_batch(graph: Any) -> bool:
    """Whether every graph input has fixed sizes on every axis but the first."""
    initializers = {init.name for init in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    return all(dim.HasField("dim_value") for value in inputs for dim in value.type.tensor_type.shape.dim[1:])


def _fold_node(
    node: Any,
    constants: dict[str, np.ndarray],
    dims: dict[str, list[int | None]],
    partial: dict[str, list[int | None]],
    model: Any,
) -> list[np.ndarray] | None:
    if node.domain not in ("", "ai.onnx") or node.op_type in UNFOLDABLE or not node.output:
        return None
    if node.op_type == "Constant":
        return _evaluate(node, [], model)
    if node.op_type in SHAPE_OPS:
        shape = dims.get(node.input[0])
        if shape is None:
            return None
        if node.op_type == "Size":
            known = [dim for dim in shape if dim is not None]
            return [np.array(int(np.prod(known)), dtype=np.int64)] if len(known) == len(shape) else None
        attributes = {a.name: a.i for a in node.attribute}
        selected = shape[slice(attributes.get("start", 0), attributes.get("end"))]
        if None in selected:
            partial[node.output[0]] = selected
            return None
        return [np.array(selected, dtype=np.int64)]
    if node.op_type == "Gather" and node.input[0] in partial and node.input[1] in constants:
        if next((a.i for a in node.attribute if a.name == "axis"), 0) != 0:
            return None
        picked = np.take(np.array(partial[node.input[0]], dtype=object), constants[node.input[1]])
        if any(value is None for value in np.ravel(picked)):
            return None
        return [np.asarray(picked, dtype=np.int64)]
    inputs = [constants.get(name, _MISSING) for name in node.input]
    if any(value is _MISSING for value in inputs):
        return None
    if any(value is not None and np.size(value) > SMALL for value in inputs):
        return None
    outputs = _evaluate(node, inputs, model)
    if outputs is None or any(np.size(value) > SMALL for value in outputs):
        return None
    return outputs


_MISSING: Any = object()


def _evaluate(node: Any, inputs: list[np.ndarray | None], model: Any) -> list[np.ndarray] | None:
    """One node run by ONNX's reference evaluator (None where it cannot)."""
    from onnx.reference import ReferenceEvaluator

    opsets = {o.domain: o.version for o in model.opset_import}
    try:
        evaluator = ReferenceEvaluator(_single_node_model(node, opsets))
        feeds = {f"in{i}": value for i, value in enumerate(inputs) if value is not None}
        return [np.asarray(value) for value in evaluator.run(None, feeds)]
    except Exception:  # an op the reference evaluator lacks: leave the node as it is
        return None


def _single_node_model(node: Any, opsets: dict[str, int]) -> Any:
    import onnx

    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    copy.input[:] = [f"in{i}" if name else "" for i, name in enumerate(node.input)]
    copy.output[:] = [f"out{i}" if name else "" for i, name in enumerate(node.output)]
    inputs = [onnx.helper.make_empty_tensor_value_info(name) for name in copy.input if name]
    outputs = [onnx.helper.make_empty_tensor_value_info(name) for name in copy.output if name]
    graph = onnx.helper.make_graph([copy], "fold", inputs, outputs)
    return onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in opsets.items()]
    )


def _static_dims(model: Any) -> dict[str, list[int | None]]:
    """Every typed tensor's dimensions (None where symbolic), as ONNX's shape inference derives them from
    the graph's inputs. The annotations already in the graph are not trusted: the symbolic pass of
    quant_pre_process guesses sizes after data-dependent ops (Longformer's global-attention scatters)."""
    import onnx

    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    del bare.graph.value_info[:]
    try:
        inferred = onnx.shape_inference.infer_shapes(bare, data_prop=True)
    except Exception:  # shape inference refuses some contrib ops: fold nothing that needs a shape
        inferred = bare
    dims: dict[str, list[int | None]] = {}
    graph = inferred.graph
    for info in [*graph.input, *graph.value_info, *graph.output]:
        tensor = info.type.tensor_type
        if tensor.HasField("shape"):
            dims[info.name] = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    return dims


def _drop_unused_initializers(graph: Any) -> None:
    used = {name for node in graph.node for name in node.input} | {output.name for output in graph.output}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def _drop_dead_nodes(graph: Any) -> None:
    """Remove nodes none of whose outputs is used (the Shape nodes left behind by folding)."""
    while True:
        used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
        kept = [node for node in graph.node if any(name in used for name in node.output if name)]
        if len(kept) == len(graph.node):
            return
        del graph.node[:]
        graph.node.extend(kept)


def fold_pads_into_convs(model: Any) -> int:
    """Remove constant-mode, zero-valued Pads over spatial axes whose only consumers are Convs (explicit
    pads), adding the amounts to the Convs' `pads`; returns how many Pads were folded."""
    from onnx import numpy_helper

    graph = model.graph
    initializers = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {output.name for output in graph.output}
    removed = []
    for pad in graph.node:
        if pad.op_type != "Pad" or pad.output[0] in outputs:
            continue
        amounts = _constant_pads(pad, initializers)
        users = consumers.get(pad.output[0], [])
        if (
            amounts is None
            or not users
            or not all(_takes_explicit_pads(conv, pad.output[0]) for conv in users)
        ):
            continue
        rank = len(amounts) // 2
        begins, ends = amounts[:rank], amounts[rank:]
        if rank < 3 or any(begins[:2]) or any(ends[:2]) or min(amounts) < 0:
            continue
        for conv in users:
            spatial = rank - 2
            current = _attribute(conv, "pads") or [0] * (2 * spatial)
            merged = [current[i] + begins[2 + i] for i in range(spatial)]
            merged += [current[spatial + i] + ends[2 + i] for i in range(spatial)]
            _set_ints(conv, "pads", merged)
            conv.input[0] = pad.input[0]
        removed.append(pad)
    if removed:
        kept = [node for node in graph.node if all(node is not pad for pad in removed)]
        del graph.node[:]
        graph.node.extend(kept)
        _drop_unused_initializers(graph)
    return len(removed)


def _constant_pads(pad: Any, initializers: dict[str, np.ndarray]) -> list[int] | None:
    """The Pad's amounts when it is constant mode with a zero (or omitted) value on every axis."""
    attributes = {a.name: a for a in pad.attribute}
    mode = attributes["mode"].s.decode() if "mode" in attributes else "constant"
    if mode != "constant":
        return None
    if "pads" in attributes:  # opset < 11
        value = attributes["value"].f if "value" in attributes else 0.0
        return list(attributes["pads"].ints) if value == 0.0 else None
    if len(pad.input) > 3 and pad.input[3]:  # opset 18 axes: not handled
        return None
    if len(pad.input) < 2 or pad.input[1] not in initializers:
        return None
    if len(pad.input) > 2 and pad.input[2]:
        value = initializers.get(pad.input[2])
        if value is None or np.any(value != 0):
            return None
    return [int(v) for v in initializers[pad.input[1]].reshape(-1)]


def _takes_explicit_pads(conv: Any, tensor: str) -> bool:
    auto_pad = next((a.s.decode() for a in conv.attribute if a.name == "auto_pad"), "NOTSET")
    return conv.op_type == "Conv" and conv.input[0] == tensor and auto_pad == "NOTSET"


def _attribute(node: Any, name: str) -> list[int] | None:
    return next((list(a.ints) for a in node.attribute if a.name == name), None)


def _set_ints(node: Any, name: str, values: list[int]) -> None:
    import onnx

    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend([*kept, onnx.helper.make_attribute(name, values)])


def shape_arithmetic_nodes(model: Any) -> list[str]:
    """Names of the nodes that compute only on Shape/Size outputs and constants (pad amounts, reshape
    targets): they carry sizes, not activations, and must not be quantized."""
    graph = model.graph
    shape_values = {init.name for init in graph.initializer} | {""}
    names = []
    for node in graph.node:
        if node.op_type in SHAPE_OPS or node.op_type == "Constant":
            shape_values.update(node.output)
        elif node.input and all(name in shape_values for name in node.input):
            shape_values.update(node.output)
            if node.name:
                names.append(node.name)
    return names


def prepare_for_int8(path: Path) -> dict[str, int]:
    """Fold static shape arithmetic and then zero Pads into Convs, rewriting `path`; the counts. A rewrite
    whose outputs differ from the graph's own on a sample input is dropped (the graph stays as it was)."""
    import onnx

    model = onnx.load(str(path))
    folded = fold_shape_arithmetic(model)
    pads = fold_pads_into_convs(model)
    if folded:
        _drop_dead_nodes(model.graph)
    if not (folded or pads):
        return {"shape_nodes_folded": 0, "pads_folded_into_convs": 0}
    rewritten = path.with_name(f".{path.name}.folded.onnx")
    onnx.save(model, str(rewritten))
    try:
        if not _same_outputs(path, rewritten):
            return {"shape_nodes_folded": 0, "pads_folded_into_convs": 0}
        rewritten.replace(path)
    finally:
        rewritten.unlink(missing_ok=True)
    return {"shape_nodes_folded": folded, "pads_folded_into_convs": pads}


def _same_outputs(original: Path, rewritten: Path) -> bool:
    """Whether both graphs run and agree (within float rounding) on one input at the graph's sizes."""
    import onnxruntime as ort

    sessions = [
        ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (original, rewritten)
    ]
    rng = np.random.default_rng(0)
    feeds = {}
    for value in sessions[0].get_inputs():
        shape = [dim if isinstance(dim, int) else 1 for dim in value.shape]
        integer = "int" in value.type
        feeds[value.name] = (
            np.ones(shape, np.int64 if "int64" in value.type else np.int32)
            if integer
            else (rng.standard_normal(shape).astype(np.float32))
        )
    try:
        expected, got = (session.run(None, feeds) for session in sessions)
    except Exception:  # onnxruntime raises its own Fail / InvalidArgument types
        return False
    return all(np.allclose(a, b, rtol=1e-4, atol=1e-4) for a, b in zip(expected, got, strict=True))


def per_channel_conv_integer(source: Path, quantized: Path, *, reduce_range: bool = False) -> int:
    """Requantize the int8 weights of `quantized`'s ConvIntegers per output channel from `source`'s float
    weights, their scales becoming [1, C, 1, ...] vectors; returns how many were rewritten. With
    `reduce_range`, 7-bit weights (as quantize_dynamic wrote them).

    Only symmetric weights (zero point 0) that one ConvInteger and one scale Mul use are rewritten: the
    zero point stays a scalar 0, as ConvInteger requires, and the Mul broadcasts the channel scales.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(quantized))
    graph = model.graph
    weights = {init.name: init for init in onnx.load(str(source), load_external_data=True).graph.initializer}
    initializers = {init.name: init for init in graph.initializer}
    uses = Counter(name for node in graph.node for name in node.input)
    limit = 63 if reduce_range else 127
    rewritten = 0
    for node in graph.node:
        if node.op_type != "ConvInteger" or len(node.input) < 4:
            continue
        q_name, zp_name = node.input[1], node.input[3]
        f_name = q_name.removesuffix("_quantized")
        scale_name = f"{f_name}_scale"
        if (
            q_name == f_name
            or f_name not in weights
            or q_name not in initializers
            or scale_name not in initializers
            or zp_name not in initializers
            or uses[q_name] != 1
            or uses[scale_name] != 1
            or numpy_helper.to_array(initializers[q_name]).dtype != np.int8
            or np.any(numpy_helper.to_array(initializers[zp_name]) != 0)
        ):
            continue
        weight = numpy_helper.to_array(weights[f_name]).astype(np.float32)
        channels = weight.shape[0]
        absmax = np.abs(weight.reshape(channels, -1)).max(axis=1)
        scale = np.where(absmax > 0, absmax / limit, 1.0).astype(np.float32)
        broadcast = (channels,) + (1,) * (weight.ndim - 1)
        q = np.clip(np.rint(weight / scale.reshape(broadcast)), -limit, limit).astype(np.int8)
        initializers[q_name].CopyFrom(numpy_helper.from_array(q, q_name))
        initializers[scale_name].CopyFrom(
            numpy_helper.from_array(scale.reshape((1, channels) + (1,) * (weight.ndim - 2)), scale_name)
        )
        rewritten += 1
    if rewritten:
        onnx.save(model, str(quantized))
    return rewritten
