"""The quantization spec: a scheme (one descriptor file each, `*_scheme.py`) and the options it takes.

Every option is declared once, on `QuantizationOptions`; a scheme's descriptor names the options it takes,
so an option given to a scheme that does not take it is refused in one line naming the schemes that do,
and the manifest records only the options that shaped the variant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from edgeship.options import StepOptions, flag_of, one_of
from edgeship.registry import Registry

CalibrationMethod = Literal["minmax", "entropy", "percentile"]
COMMON_OPTIONS = ("keep_float",)
"""Options every scheme takes."""
ONNX_ONLY_OPTIONS = ("activation_scales", "target_cpu", "target_runtime")
"""Options only the ONNX backend reads (ONNX Runtime's kernels and TensorRT's Q/DQ forms)."""


@dataclass(frozen=True)
class Scheme:
    """What a quantization scheme is, independent of the backend that applies it."""

    id: str
    summary: str
    options: tuple[str, ...]
    """The QuantizationOptions fields this scheme takes (besides COMMON_OPTIONS)."""
    tolerance: float
    """Reported max |output - PyTorch reference| a variant is expected to stay within; accuracy gates."""
    calibrates: bool = False
    """Whether it needs real calibration samples (--calibration-data)."""

    def takes(self, option: str) -> bool:
        """Whether `option` shapes this scheme's output."""
        return option in self.options or option in COMMON_OPTIONS


SCHEMES: Registry[Scheme] = Registry(
    "quantization scheme", "edgeship.compress.quantize", "_scheme", key="name"
)


def register_scheme(scheme: Scheme) -> Scheme:
    """Register a scheme descriptor (one `*_scheme.py` module each)."""
    SCHEMES.add(scheme.id, scheme)
    return scheme


def get_scheme(scheme_id: str) -> Scheme:
    """The descriptor of `scheme_id`, or an error listing the schemes there are."""
    return SCHEMES.get(scheme_id)


def scheme_names() -> list[str]:
    """Every registered scheme id."""
    return SCHEMES.names()


SchemeId = Annotated[str, one_of("scheme", scheme_names)]


class QuantizationOptions(StepOptions):
    """How to quantize (the `quantize` flags and the recipe's `quantize` keys); each scheme takes some."""

    calibration_samples: int = Field(
        default=128, gt=0, description="int8-static: real samples to calibrate on."
    )
    calibration_method: CalibrationMethod = Field(
        default="minmax", description="int8-static: how activation ranges are chosen."
    )
    block_size: Literal[32, 64, 128] = Field(default=32, description="int4-weight: weights per scale.")
    symmetric: bool = Field(default=True, description="int4-weight: symmetric blocks (no zero point).")
    int4_algorithm: Literal["rtn", "hqq", "gptq"] = Field(
        default="rtn",
        description="int4-weight: round-to-nearest, half-quadratic (HQQ, asymmetric) scales, or GPTQ "
        "(ONNX; rounds each weight column against the error of the last, on --calibration-data).",
    )
    per_channel: bool = Field(default=True, description="int8: one scale per output channel of each weight.")
    activation_scales: Literal["tensor", "block"] = Field(
        default="tensor",
        description="ONNX int8-dynamic: one activation scale per tensor (MatMulInteger, fast) or per block of 32 "
        "in each row (8-bit MatMulNBits: closer to fp32, slower on CPUs without VNNI).",
    )
    keep_float: tuple[str, ...] = Field(default=(), description="Layers (backend names) left in float.")
    target_cpu: Literal["x86", "arm"] | None = Field(
        default=None,
        description="int8-static: CPU family the artifact is for (activation signedness); default: this host.",
    )
    target_runtime: Literal["onnxruntime", "tensorrt"] = Field(
        default="onnxruntime",
        description="ONNX: who runs the Q/DQ graph. tensorrt = signed symmetric int8 activations and int4 "
        "weights as block DequantizeLinear (opset 21), the forms TensorRT builds engines from.",
    )

    def specs(self, scheme_ids: Iterable[str]) -> list[QuantizationSpec]:
        """One spec per scheme, each given the options it takes; an option set that none of the schemes
        takes is refused."""
        schemes = [get_scheme(name) for name in scheme_ids]
        given = self.model_fields_set & set(QUANTIZATION_FIELDS)
        for option in sorted(given):
            if schemes and not any(scheme.takes(option) for scheme in schemes):
                raise ValueError(_not_taken(option, [scheme.id for scheme in schemes]))
        return [
            QuantizationSpec(
                scheme=scheme.id,
                **{name: getattr(self, name) for name in given if scheme.takes(name)},
            )
            for scheme in schemes
        ]


QUANTIZATION_FIELDS = tuple(QuantizationOptions.model_fields)


class QuantizationSpec(QuantizationOptions):
    """One scheme and the options it takes; each backend maps it onto its native tool."""

    scheme: SchemeId

    @model_validator(mode="after")
    def _options_the_scheme_takes(self) -> QuantizationSpec:
        scheme = get_scheme(self.scheme)
        for option in sorted(self.model_fields_set - {"scheme"}):
            if not scheme.takes(option):
                raise ValueError(_not_taken(option, [scheme.id]))
        return self

    @property
    def descriptor(self) -> Scheme:
        """The scheme's descriptor."""
        return get_scheme(self.scheme)

    @property
    def calibrates(self) -> bool:
        """Whether it reads calibration samples: int8-static, and int4-weight's GPTQ."""
        gptq = self.descriptor.takes("int4_algorithm") and self.int4_algorithm == "gptq"
        return self.descriptor.calibrates or gptq

    @property
    def calibrating_name(self) -> str:
        """How an error names what needs the calibration samples."""
        return f"{self.scheme} with --int4-algorithm gptq" if self.scheme == "int4-weight" else self.scheme

    def recorded(self, artifact_format: str) -> dict[str, Any]:
        """The scheme and only the options it takes for this format (with their values), for the manifest."""
        scheme = self.descriptor
        values = self.model_dump(mode="json")
        return {
            name: value
            for name, value in values.items()
            if name == "scheme"
            or (scheme.takes(name) and (artifact_format == "onnx" or name not in ONNX_ONLY_OPTIONS))
        }


def _not_taken(option: str, schemes: list[str]) -> str:
    """`--block-size applies to int4-weight, not int8-dynamic`."""
    takers = [name for name in scheme_names() if get_scheme(name).takes(option)]
    return f"{flag_of(QuantizationOptions, option)} applies to {', '.join(takers)}, not {', '.join(schemes)}"
