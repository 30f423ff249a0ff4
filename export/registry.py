"""Registry of exporters by artifact format; a new format is one module plus one decorator line."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from edgeship.errors import EdgeshipError
from edgeship.manifest import GraphInfo, TensorSpec

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


_EXPORTERS: dict[str, Exporter] = {}


def register_exporter(artifact_format: str) -> Callable[[type], type]:
    """Class decorator: register an exporter for `artifact_format`."""

    def decorator(cls: type) -> type:
        _EXPORTERS[artifact_format] = cls()
        return cls

    return decorator


def _discover() -> None:
    import edgeship.export as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.endswith("_exporter"):
            importlib.import_module(f"{package.__name__}.{module.name}")


def available_formats() -> list[str]:
    """Formats with a registered exporter."""
    _discover()
    return sorted(_EXPORTERS)


def get_exporter(artifact_format: str) -> Exporter:
    """The exporter for `artifact_format`, or an error listing the ones there are."""
    _discover()
    if artifact_format not in _EXPORTERS:
        raise EdgeshipError(
            f"unknown export format '{artifact_format}'",
            hint=f"choose one of: {', '.join(available_formats())}",
        )
    return _EXPORTERS[artifact_format]
