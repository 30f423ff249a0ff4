"""Registry of quantization backends by artifact format; one module plus one decorator line each."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edgeship.compress.quantize.spec import QuantizationSpec, Scheme
from edgeship.errors import EdgeshipError
from edgeship.manifest import GraphInfo

CalibrationBatches = list[dict[str, np.ndarray]]


@dataclass
class QuantizeResult:
    """What a backend wrote: graph facts, the options it used and the tool versions."""

    graph: GraphInfo
    options: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)


class Quantizer(Protocol):
    """Turns an fp32 artifact into a quantized one of the same format."""

    format: str
    schemes: tuple[Scheme, ...]

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


_QUANTIZERS: dict[str, Quantizer] = {}


def register_quantizer(artifact_format: str) -> Callable[[type], type]:
    """Class decorator: register a quantization backend for `artifact_format`."""

    def decorator(cls: type) -> type:
        _QUANTIZERS[artifact_format] = cls()
        return cls

    return decorator


def _discover() -> None:
    import edgeship.compress.quantize as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.endswith("_backend"):
            importlib.import_module(f"{package.__name__}.{module.name}")


def get_quantizer(artifact_format: str, scheme: Scheme) -> Quantizer:
    """The backend that applies `scheme` to `artifact_format`, or an error naming what exists."""
    _discover()
    quantizer = _QUANTIZERS.get(artifact_format)
    if quantizer is None:
        raise EdgeshipError(
            f"no quantization backend for format '{artifact_format}'",
            hint=f"formats with one: {', '.join(sorted(_QUANTIZERS)) or 'none'}",
        )
    if scheme not in quantizer.schemes:
        raise EdgeshipError(
            f"scheme '{scheme}' is not supported for {artifact_format}",
            hint=f"choose one of: {', '.join(quantizer.schemes)}",
        )
    return quantizer
