"""Edgeship's own exceptions: each carries a user-facing message and a hint for the fix."""

from __future__ import annotations


class EdgeshipError(Exception):
    """Base error: the CLI prints `error: <message> (hint: <hint>)` on one line and exits non-zero."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The error as the single line the CLI prints."""
        text = f"error: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return " ".join(text.split())


class ModelNotFoundError(EdgeshipError):
    """A model path, hub id or timm name that cannot be found."""


class ModelLoadError(EdgeshipError):
    """A model that exists but cannot be read (corrupt, truncated, incompatible)."""


class UnsupportedModelError(EdgeshipError):
    """An architecture or task edgeship does not export yet."""


class NotABundleError(EdgeshipError):
    """A directory that is not an edgeship bundle."""


class BundleError(EdgeshipError):
    """A bundle that is inconsistent (missing or altered files, bad manifest)."""


class OutputError(EdgeshipError):
    """An output location that cannot be written."""


class ParityError(EdgeshipError):
    """An exported artifact whose outputs disagree with the PyTorch reference."""


class DataError(EdgeshipError):
    """Evaluation or training data that cannot be read or does not match the model."""


class MissingDependencyError(EdgeshipError):
    """An optional dependency (extra) that is not installed."""


class DistillError(EdgeshipError):
    """A student that cannot be built from a teacher, or a distillation run that cannot start or resume."""


class DeviceError(EdgeshipError):
    """A device that cannot be reached, trusted, pushed to or benchmarked on."""
