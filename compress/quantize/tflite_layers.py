"""The layers of a .tflite model as ai-edge-quantizer addresses them (op scopes), with readable names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

WEIGHT_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D_TRANSPOSE", "EMBEDDING_LOOKUP")
BLOCKWISE_OPS = ("FULLY_CONNECTED", "EMBEDDING_LOOKUP")
BROADCAST_OPS = ("ADD", "SUB", "MUL")
WRAPPER_PREFIX = "logits_module.model."
"""What the exporter's wrappers (named inputs, LoadedModel.logits_module) add in front of module paths."""


@dataclass(frozen=True)
class Layer:
    """An op with a constant weight tensor."""

    name: str
    """Module path, e.g. bert.encoder.0.attention.self.query (a ModuleList index stands for its list)."""
    scope: str
    """ai-edge-quantizer's scope for the op (its output tensor names), matched exactly in recipes."""
    op: str
    blockwise: bool
    reduction_size: int
    """Length of the weight axis that block-wise quantization splits into blocks."""


def read_layers(path: Path) -> list[Layer]:
    """Every op of the main subgraph that has a constant weight, in graph order."""
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as flatbuffer

    model = flatbuffer.read_model(str(path))
    graph = model.subgraphs[0]
    layers = []
    for op in graph.operators:
        name = _op_name(model, op)
        if name not in WEIGHT_OPS or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        weight = graph.tensors[op.inputs[1]]
        if not _is_constant(model, weight):
            continue
        scope = flatbuffer.get_op_scope(op, graph.tensors)
        layers.append(
            Layer(
                name=readable_name(scope),
                scope=scope,
                op=name,
                blockwise=name in BLOCKWISE_OPS,
                reduction_size=int(weight.shape[-1]),
            )
        )
    return layers


def runtime_unsafe_scopes(path: Path) -> list[str]:
    """Element-wise ops broadcasting across ranks (e.g. BERT's additive attention mask).

    LiteRT 2.3's int8 ADD kernel aborts the process on such an op, so int8-static keeps them float.
    """
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as flatbuffer

    model = flatbuffer.read_model(str(path))
    graph = model.subgraphs[0]
    scopes = []
    for op in graph.operators:
        if _op_name(model, op) not in BROADCAST_OPS or len(op.inputs) != 2:
            continue
        ranks = {len(graph.tensors[index].shape) for index in op.inputs}
        if len(ranks) > 1 and 0 not in ranks:
            scopes.append(flatbuffer.get_op_scope(op, graph.tensors))
    return scopes


def constant_lhs_batch_matmuls(path: Path) -> list[str]:
    """BATCH_MATMULs whose constant operand is the left one (Funnel's relative-position attention).

    ai-edge-quantizer makes that constant int8, but LiteRT's hybrid BATCH_MATMUL takes an int8 right-hand
    side only (batch_matmul.cc refuses to load the model), so the dynamic-range schemes keep them float.
    """
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as flatbuffer

    model = flatbuffer.read_model(str(path))
    graph = model.subgraphs[0]
    return [
        flatbuffer.get_op_scope(op, graph.tensors)
        for op in graph.operators
        if _op_name(model, op) == "BATCH_MATMUL"
        and op.inputs[0] >= 0
        and _is_constant(model, graph.tensors[op.inputs[0]])
        and not _is_constant(model, graph.tensors[op.inputs[1]])
    ]


def readable_name(scope: str) -> str:
    """`a.b.BertModel_bert/c.d.Linear_query;1;` -> `bert.query`: the attribute names along the path."""
    paths = [part for part in scope.split(";") if part]
    deepest = max(reversed(paths), key=lambda part: part.count("/"), default=scope)
    if "/" not in deepest:
        return deepest
    attributes = [segment.rsplit(".", 1)[-1].partition("_")[2] for segment in deepest.split("/")]
    return ".".join(attribute for attribute in attributes if attribute).removeprefix(WRAPPER_PREFIX)


def _op_name(model: object, op: object) -> str:
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as flatbuffer

    code = model.operatorCodes[op.opcodeIndex]  # type: ignore[attr-defined]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    operation = flatbuffer.TFL_OP_CODE_TO_NAME.get(builtin)
    return operation.name if operation is not None else str(builtin)


def _is_constant(model: object, tensor: object) -> bool:
    buffer = model.buffers[tensor.buffer]  # type: ignore[attr-defined]
    return buffer.data is not None or bool(getattr(buffer, "offset", 0))
