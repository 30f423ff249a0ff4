"""One Session interface over inference engines, and the registry that maps artifact formats to them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from edgeship.errors import EdgeshipError, ModelLoadError
from edgeship.registry import Registry


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
RUNTIMES: Registry[SessionFactory] = Registry("runtime on this host", "edgeship.runtimes", "_session")


def register_runtime(artifact_format: str) -> Callable[[SessionFactory], SessionFactory]:
    """Decorator: `factory(path, threads)` opens artifacts of `artifact_format`."""

    def decorator(factory: SessionFactory) -> SessionFactory:
        RUNTIMES.add(artifact_format, factory)
        return factory

    return decorator


def open_session(path: Path, artifact_format: str, threads: int | None = None) -> Session:
    """Open `path` with the runtime registered for its format; a file the runtime cannot read (truncated,
    corrupt) is a ModelLoadError naming it."""
    factory = RUNTIMES.get(artifact_format)
    try:
        return factory(Path(path), threads)
    except EdgeshipError:
        raise
    except Exception as exc:  # each runtime raises its own types for unreadable files
        reason = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"{path} cannot be loaded as {artifact_format}: {reason}",
            hint="the file is corrupt or truncated; re-run the step that produced it",
        ) from exc
