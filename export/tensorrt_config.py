"""What a TensorRT build is asked for: shape profiles, builder flags, and whether a Q/DQ graph can be built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from edgeship.errors import UnsupportedModelError
from edgeship.export.registry import ExportPrecision
from edgeship.manifest import TensorSpec
from edgeship.runtimes import agent

BUILDER_FLAGS = cast("dict[ExportPrecision, tuple[str, ...]]", agent.BUILDER_FLAGS)
"""TensorRT builder flags per precision: the agent's table, which builds engines on devices too."""
STANDARD_DOMAINS = ("", "ai.onnx")
ONNX_UINT8, ONNX_INT8, ONNX_UINT4, ONNX_INT4 = 2, 3, 21, 22
REEXPORT_HINT = (
    "export with --no-optimize (plain ONNX ops) and quantize with --target-runtime tensorrt, "
    "then build the engine again"
)


@dataclass(frozen=True)
class ShapeRange:
    """The min / opt / max shape of one engine input (one TensorRT optimization profile entry)."""

    name: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]


def optimization_profile(inputs: list[TensorSpec], max_length: int, max_batch: int) -> list[ShapeRange]:
    """Shape ranges for the inputs' dynamic axes: batch 1..max_batch (opt 1: edge latency), any other named
    axis (the sequence) 1..max_length (opt max_length: inputs are padded to it); fixed axes stay fixed."""
    if max_batch < 1 or max_length < 1:
        raise UnsupportedModelError(
            f"engine shapes need max batch and max length of at least 1 (got {max_batch}, {max_length})",
            hint="pass --max-batch 1 or more",
        )
    ranges = []
    for tensor in inputs:
        axes = [_axis_range(axis, dim, max_length, max_batch) for axis, dim in enumerate(tensor.shape)]
        low, best, high = (tuple(bounds) for bounds in zip(*axes, strict=True))
        ranges.append(ShapeRange(tensor.name, low, best, high))
    return ranges


def profile_options(profile: list[ShapeRange]) -> dict[str, dict[str, list[int]]]:
    """The profile as JSON: {input: {"min", "opt", "max"}} (the agent's --profile and `produced_by`)."""
    return {r.name: {"min": list(r.min), "opt": list(r.opt), "max": list(r.max)} for r in profile}


def _axis_range(axis: int, dim: int | str, max_length: int, max_batch: int) -> tuple[int, int, int]:
    if isinstance(dim, int) and dim > 0:
        return dim, dim, dim
    if axis == 0 or dim == "batch":
        return 1, 1, max_batch
    return 1, max_length, max_length


def check_buildable(model: Any, precision: ExportPrecision) -> None:
    """Refuse, before TensorRT parses it, an ONNX graph that cannot become an engine at `precision`:
    ONNX Runtime contrib ops (fused Attention, MatMulNBits), asymmetric or uint8 Q/DQ, or no Q/DQ at all."""
    ops = {node.op_type for node in model.graph.node}
    if precision == "int4" and "MatMulNBits" in ops:
        raise UnsupportedModelError(
            "this int4 graph uses ONNX Runtime's MatMulNBits, which TensorRT cannot read; TensorRT needs int4 "
            "weights as block-quantized DequantizeLinear (opset 21)",
            hint=REEXPORT_HINT,
        )
    contrib = sorted({n.op_type for n in model.graph.node if n.domain not in STANDARD_DOMAINS})
    if contrib:
        raise UnsupportedModelError(
            f"the ONNX graph has ONNX Runtime contrib ops TensorRT cannot parse: {', '.join(contrib[:6])}",
            hint=REEXPORT_HINT,
        )
    if precision in ("fp32", "fp16"):
        return
    wanted = (ONNX_INT8,) if precision == "int8" else (ONNX_INT4,)
    zero_points = _zero_points(model)
    quantized = [dtype for dtype, _ in zero_points.values()]
    if any(dtype in (ONNX_UINT8, ONNX_UINT4) for dtype in quantized):
        raise UnsupportedModelError(
            "the Q/DQ graph quantizes to unsigned integers; TensorRT only takes signed int8 / int4",
            hint="quantize with --target-runtime tensorrt (signed, symmetric)",
        )
    if any(nonzero for _, nonzero in zero_points.values()):
        raise UnsupportedModelError(
            "the Q/DQ graph has non-zero zero points; TensorRT only supports symmetric quantization",
            hint="quantize with --target-runtime tensorrt (signed, symmetric)",
        )
    if not any(dtype in wanted for dtype in quantized) and not _has_quantized_weights(model, wanted):
        raise UnsupportedModelError(
            f"the ONNX graph has no {precision} Q/DQ nodes to build an {precision} engine from",
            hint=f"quantize the bundle first: edgeship quantize BUNDLE --scheme "
            f"{'int8-static' if precision == 'int8' else 'int4-weight'} --target-runtime tensorrt",
        )


def _zero_points(model: Any) -> dict[str, tuple[int, bool]]:
    """Each Q/DQ zero-point initializer: (ONNX element type, whether any value is non-zero)."""
    from onnx import numpy_helper

    initializers = {init.name: init for init in model.graph.initializer}
    found = {}
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or len(node.input) < 3:
            continue
        tensor = initializers.get(node.input[2])
        if tensor is not None:
            found[tensor.name] = (tensor.data_type, bool(numpy_helper.to_array(tensor).any()))
    return found


def _has_quantized_weights(model: Any, dtypes: tuple[int, ...]) -> bool:
    """Whether a DequantizeLinear reads an initializer of one of `dtypes` (symmetric graphs may omit zero points)."""
    types = {init.name: init.data_type for init in model.graph.initializer}
    return any(
        node.op_type == "DequantizeLinear" and types.get(node.input[0]) in dtypes for node in model.graph.node
    )
