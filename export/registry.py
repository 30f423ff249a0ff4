"""Registry of exporters by artifact format; a new format is one module plus one decorator line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from edgeship.manifest import GraphInfo, TensorSpec
from edgeship.registry import Registry

if TYPE_CHECKING:
    from edgeship.compress.sources import LoadedModel


@dataclass(frozen=True)
class ExportOptions:
    """Options every exporter accepts."""

    max_length: int = 128
    opset: int | None = None
    optimize: bool = True


@dataclass
class ExportResult:
    """What an exporter wrote: graph facts, the I/O signature and the options it used."""

    graph: GraphInfo
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    options: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)


class Exporter(Protocol):
    """Turns a loaded PyTorch model into one artifact file."""

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
