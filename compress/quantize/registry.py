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


SchemeHandler = Callable[[Path, Path, QuantizationSpec, "CalibrationBatches | None"], dict[str, Any]]
"""Writes `source` quantized per the spec to `destination`; returns the options it chose (recorded)."""
SCHEME_HANDLERS: dict[tuple[str, str], SchemeHandler] = {}


def register_scheme_handler(artifact_format: str, scheme: str) -> Callable[[SchemeHandler], SchemeHandler]:
    """Decorator: how a scheme declared outside the backends (its own `*_scheme.py`) is applied to a format."""

    def decorator(handler: SchemeHandler) -> SchemeHandler:
        SCHEME_HANDLERS[(artifact_format, scheme)] = handler
        return handler

    return decorator


def scheme_handler(artifact_format: str, scheme: str) -> SchemeHandler | None:
    """The registered handler of `scheme` for `artifact_format`, if a scheme module brought one."""
    return SCHEME_HANDLERS.get((artifact_format, scheme))


def supported_schemes(artifact_format: str) -> list[str]:
    """The format's own schemes (its descriptor) and those whose modules registered a handler for it."""
    extra = [scheme for fmt, scheme in SCHEME_HANDLERS if fmt == artifact_format]
    return [*get_format(artifact_format).schemes, *extra]


def get_quantizer(artifact_format: str, scheme: str) -> Quantizer:
    """The backend that applies `scheme` to `artifact_format`, or an error naming what exists."""
    quantizer = QUANTIZERS.get(artifact_format)
    schemes = supported_schemes(artifact_format)
    if scheme not in schemes:
        raise EdgeshipError(
            f"scheme '{scheme}' is not supported for {artifact_format}",
            hint=f"choose one of: {', '.join(schemes)}",
        )
    return quantizer
