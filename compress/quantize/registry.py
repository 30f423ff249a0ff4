"""Registry of quantization backends by artifact format; one module plus one decorator line each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edgeship.compress.quantize.spec import QuantizationSpec
from edgeship.errors import EdgeshipError
from edgeship.manifest import GraphInfo, TensorSpec
from edgeship.registry import Registry
from edgeship.runtimes.formats import get_format

CalibrationBatches = list[dict[str, np.ndarray]]


@dataclass
class QuantizeResult:
    """What a backend wrote: graph facts, the options it used, the tool versions and, where quantization
    changed them (int8 I/O), the artifact's inputs and outputs."""

    graph: GraphInfo
    options: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)
    inputs: list[TensorSpec] | None = None
    outputs: list[TensorSpec] | None = None


class Quantizer(Protocol):
    """Turns an fp32 artifact into a quantized one of the same format."""

    format: str
    schemes: tuple[str, ...]

    def quantize(
        self,
        source: Path,
        destination: Path,
        spec: QuantizationSpec,
        calibration: CalibrationBatches | None,
    ) -> QuantizeResult:
        """Write the quantized artifact to `destination`; `calibration` is given for int8-static."""
        ...

    def layers(self, source: Path) -> list[str]:
        """Names of the quantizable layers, in graph order, for sensitivity ranking and keep_float."""
        ...


QUANTIZERS: Registry[Quantizer] = Registry("quantization backend", "edgeship.compress.quantize", "_backend")


def register_quantizer(artifact_format: str) -> Callable[[type], type]:
    """Class decorator: register a quantization backend for `artifact_format`."""

    def decorator(cls: type) -> type:
        QUANTIZERS.add(artifact_format, cls())
        return cls

    return decorator


def get_quantizer(artifact_format: str, scheme: str) -> Quantizer:
    """The backend that applies `scheme` to `artifact_format`, or an error naming what exists."""
    quantizer = QUANTIZERS.get(artifact_format)
    schemes = get_format(artifact_format).schemes
    if scheme not in schemes:
        raise EdgeshipError(
            f"scheme '{scheme}' is not supported for {artifact_format}",
            hint=f"choose one of: {', '.join(schemes)}",
        )
    return quantizer
