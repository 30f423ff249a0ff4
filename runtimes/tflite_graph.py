"""Facts read from a .tflite file: operators by name, non-builtin ops, ops on quantized tensors, I/O."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeship.manifest import DType, TensorSpec

CUSTOM_OPCODE = 32
QUANTIZED_TYPES = frozenset({"INT8", "UINT8", "INT4", "INT2", "INT16", "FLOAT16"})
NUMPY_DTYPES: dict[str, DType] = {
    "float32": "float32",
    "float16": "float16",
    "int32": "int32",
    "int64": "int64",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "bool",
}
COMPUTE_OPS = (
    "FULLY_CONNECTED",
    "BATCH_MATMUL",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "EMBEDDING_LOOKUP",
    "GELU",
    "SOFTMAX",
    "HARD_SWISH",
)


@dataclass(frozen=True)
class Operator:
    """One operator of the main subgraph: its name and the types of the tensors it reads and writes."""

    name: str
    """Builtin name (FULLY_CONNECTED) or, for a custom op, its custom code (e.g. FlexErfinv)."""
    custom: bool
    tensor_types: frozenset[str]

    @property
    def quantized(self) -> bool:
        """Whether the op reads or writes an integer-quantized or float16 tensor."""
        return bool(self.tensor_types & QUANTIZED_TYPES)


def read_operators(path: Path) -> list[Operator]:
    """The operators of the model's main subgraph, in execution order."""
    from ai_edge_litert import schema_py_generated as schema

    op_names = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    type_names = {code: name for name, code in vars(schema.TensorType).items() if not name.startswith("_")}
    model = schema.Model.GetRootAs(Path(path).read_bytes(), 0)
    codes = []
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        custom = builtin == CUSTOM_OPCODE
        codes.append(
            ((code.CustomCode() or b"?").decode() if custom else op_names.get(builtin, str(builtin)), custom)
        )
    graph = model.Subgraphs(0)
    operators = []
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        name, custom = codes[op.OpcodeIndex()]
        tensors = [*op.InputsAsNumpy().tolist(), *op.OutputsAsNumpy().tolist()]
        types = frozenset(type_names.get(graph.Tensors(t).Type(), "?") for t in tensors if t >= 0)
        operators.append(Operator(name=name, custom=custom, tensor_types=types))
    return operators


def compute_op_counts(operators: list[Operator]) -> dict[str, int]:
    """How many of the ops that carry the compute (matmuls, convolutions, fused activations) there are."""
    counts = Counter(op.name for op in operators)
    return {name: counts[name] for name in COMPUTE_OPS if counts[name]}


def quantized_op_counts(operators: list[Operator]) -> dict[str, int]:
    """Ops that read or write quantized tensors, by name (QUANTIZE/DEQUANTIZE included)."""
    return dict(sorted(Counter(op.name for op in operators if op.quantized).items()))


def custom_ops(operators: list[Operator]) -> list[str]:
    """Names of the non-builtin ops (Flex/Select-TF and other custom ops), each once."""
    return sorted({op.name for op in operators if op.custom})


def read_signature(path: Path, order: list[str] | None = None) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The default signature's inputs (in `order` where given) and outputs, as LiteRT loads them."""
    from edgeship.runtimes.litert_session import LiteRtSession

    session = LiteRtSession(path, threads=1)

    def specs(details: dict[str, dict[str, Any]]) -> list[TensorSpec]:
        return [
            TensorSpec(
                name=name,
                dtype=NUMPY_DTYPES[detail["dtype"].__name__],
                shape=[int(dim) for dim in detail["shape"]],
            )
            for name, detail in details.items()
        ]

    inputs = specs(session.input_details)
    if order:
        inputs.sort(key=lambda spec: order.index(spec.name) if spec.name in order else len(order))
    return inputs, specs(session.output_details)
