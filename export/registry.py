"""Registry of exporters by artifact format; a new format is one module plus one decorator line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from edgeship.manifest import GpuTarget, GraphInfo, Precision, TensorSpec
from edgeship.registry import Registry

if TYPE_CHECKING:
    from edgeship.compress.sources import LoadedModel


ExportPrecision = Literal["fp32", "fp16", "int8", "int4"]
VARIANT_PRECISION: dict[ExportPrecision, Precision] = {
    "fp32": "fp32",
    "fp16": "fp16",
    "int8": "int8-static",
    "int4": "int4-weight",
}
"""`--precision` -> the variant's precision in the manifest (int8 and int4 come from explicit Q/DQ graphs)."""


@dataclass(frozen=True)
class ExportOptions:
    """Options every exporter accepts (engine builders also read the TensorRT ones)."""

    max_length: int = 128
    opset: int | None = None
    optimize: bool = True
    precision: ExportPrecision = "fp32"
    source_graph: Path | None = None
    """A bundle's Q/DQ ONNX to build from instead of the model (set by the pipeline, see `derived_from`)."""
    max_batch: int = 8
    workspace_mb: int = 2048
    timing_cache: Path | None = None


@dataclass
class ExportResult:
    """What an exporter wrote: graph facts, the I/O signature and the options it used."""

    graph: GraphInfo
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    options: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)
    built_for: GpuTarget | None = None


class Exporter(Protocol):
    """Turns a loaded PyTorch model into one artifact file.

    Optional: `precisions` (the `--precision` values it writes; default fp32 only), `derived_from`
    (precision -> id of the bundle variant whose graph it builds from) and `check_ready(options)`, which
    raises before any work when this host cannot export the format.
    """

    format: str
    suffix: str

    def export(self, loaded: LoadedModel, destination: Path, options: ExportOptions) -> ExportResult:
        """Write the artifact to `destination`."""
        ...


EXPORTERS: Registry[Exporter] = Registry("exporter", "edgeship.export", "_exporter")


def register_exporter(artifact_format: str) -> Callable[[type], type]:
    """Class decorator: register an exporter for `artifact_format`."""

    def decorator(cls: type) -> type:
        EXPORTERS.add(artifact_format, cls())
        return cls

    return decorator


def available_formats() -> list[str]:
    """Formats with a registered exporter."""
    return EXPORTERS.names()


def get_exporter(artifact_format: str) -> Exporter:
    """The exporter for `artifact_format`, or an error listing the ones there are."""
    return EXPORTERS.get(artifact_format)
