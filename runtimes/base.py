"""One Session interface over inference engines, and the registry that maps artifact formats to them."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from edgeship.errors import EdgeshipError


class Session(Protocol):
    """A loaded artifact that maps named numpy inputs to output arrays."""

    runtime: str
    runtime_version: str
    fixed_batch: int | None
    """The only batch size the artifact accepts, or None when the batch axis is dynamic."""

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run one inference; outputs in the artifact's output order."""
        ...


SessionFactory = Callable[[Path, int | None], Session]
_RUNTIMES: dict[str, SessionFactory] = {}


def register_runtime(artifact_format: str) -> Callable[[SessionFactory], SessionFactory]:
    """Decorator: `factory(path, threads)` opens artifacts of `artifact_format`."""

    def decorator(factory: SessionFactory) -> SessionFactory:
        _RUNTIMES[artifact_format] = factory
        return factory

    return decorator


def _discover() -> None:
    import edgeship.runtimes as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.endswith("_session"):
            importlib.import_module(f"{package.__name__}.{module.name}")


def open_session(path: Path, artifact_format: str, threads: int | None = None) -> Session:
    """Open `path` with the runtime registered for its format."""
    _discover()
    factory = _RUNTIMES.get(artifact_format)
    if factory is None:
        raise EdgeshipError(
            f"no runtime for format '{artifact_format}' on this host",
            hint=f"runtimes available: {', '.join(sorted(_RUNTIMES)) or 'none'}",
        )
    return factory(Path(path), threads)
