"""The quantization spec: what to quantize and how, independent of the backend that applies it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Scheme = Literal["int8-dynamic", "int8-static", "int4-weight", "fp16"]
SCHEMES: tuple[Scheme, ...] = ("int8-dynamic", "int8-static", "int4-weight", "fp16")
CalibrationMethod = Literal["minmax", "entropy", "percentile"]


class QuantizationOptions(BaseModel):
    """How to quantize, for any scheme (the `quantize` flags and the recipe's `quantize` keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    calibration_samples: int = Field(
        default=128, gt=0, description="int8-static: real samples to calibrate on."
    )
    calibration_method: CalibrationMethod = "minmax"
    block_size: Literal[32, 64, 128] = Field(default=32, description="int4-weight: weights per scale.")
    symmetric: bool = Field(default=True, description="int4-weight: symmetric blocks (no zero point).")
    int4_algorithm: Literal["rtn", "hqq"] = Field(
        default="rtn",
        description="int4-weight: round-to-nearest, or half-quadratic (HQQ, asymmetric) scales.",
    )
    per_channel: bool = Field(default=True, description="int8: one scale per output channel of each weight.")
    keep_float: tuple[str, ...] = Field(default=(), description="Layers (backend names) left in float.")
    target_cpu: Literal["x86", "arm"] | None = Field(
        default=None,
        description="int8-static: CPU family the artifact is for (activation signedness); None = this host.",
    )
    target_runtime: Literal["onnxruntime", "tensorrt"] = Field(
        default="onnxruntime",
        description="ONNX: who runs the Q/DQ graph. tensorrt = signed symmetric int8 activations and int4 "
        "weights as block DequantizeLinear (opset 21), the forms TensorRT builds engines from.",
    )


class QuantizationSpec(QuantizationOptions):
    """One quantization recipe: a scheme and its options; each backend maps it onto its native tool."""

    scheme: Scheme
