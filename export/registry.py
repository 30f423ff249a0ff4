"""Registry of exporters by artifact format; a new format is one module plus one decorator line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import Field

from edgeship.manifest import GpuTarget, GraphInfo, Precision, TensorSpec
from edgeship.options import StepOptions, cli
from edgeship.registry import Registry

if TYPE_CHECKING:
    from edgeship.sources.loading import LoadedModel


ExportPrecision = Literal["fp32", "fp16", "int8", "int4"]
VARIANT_PRECISION: dict[ExportPrecision, Precision] = {
    "fp32": "fp32",
    "fp16": "fp16",
    "int8": "int8-static",
    "int4": "int4-weight",
}
"""`--precision` -> the variant's precision in the manifest (int8 and int4 come from explicit Q/DQ graphs)."""


class ExportOptions(StepOptions):
    """How an artifact is written and checked (the `export` flags, the recipe's `export` keys)."""

    max_length: int = Field(
        default=128, gt=0, description="Text models: sequence length for parity and benchmarks."
    )
    opset: int | None = Field(
        default=None, description="ONNX opset (default: the architecture's pinned opset)."
    )
    optimize: bool = Field(default=True, description="Apply ONNX Runtime's transformer graph fusions.")
    parity_samples: int = Field(default=16, ge=1, description="Inputs compared against PyTorch.")
    precision: ExportPrecision = Field(
        default="fp32",
        description="TensorRT: fp32, fp16, int8 or int4 (int8/int4 build from the bundle's Q/DQ ONNX variant).",
    )
    max_batch: int = Field(
        default=8, ge=1, description="TensorRT: largest batch the engine's profile accepts."
    )
    workspace_mb: int = Field(default=2048, ge=1, description="TensorRT: builder workspace limit in MiB.")
    timing_cache: Path | None = Field(
        default=None,
        description="TensorRT: timing cache file (default: one per GPU and version under ~/.cache/edgeship; "
        "with --device, a path on the device).",
    )
    device: str | None = Field(
        default=None,
        description="TensorRT: build the engine on this device (e.g. a Jetson added with `edgeship devices "
        "add`), where it will run, and check parity there; default: this machine.",
    )
    source_graph: Path | None = Field(default=None, json_schema_extra=cli(internal=True))
    """A bundle's Q/DQ ONNX to build from instead of the model (set by the pipeline, see `derived_from`)."""


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
