"""Edgeship's own exceptions: each carries a user-facing message and a hint for the fix."""

from __future__ import annotations

import errno


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


class DiskError(EdgeshipError):
    """A disk that is full or read-only while edgeship writes."""


def disk_error(exc: BaseException) -> DiskError | None:
    """The user-facing error for a write that failed because the disk is full or read-only, else None."""
    errno_value = getattr(exc, "errno", None)
    filename = getattr(exc, "filename", None)
    if errno_value in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(exc):
        where = f" while writing {filename}" if filename else ""
        return DiskError(
            f"the disk is full{where}", hint="free some space and run the command again; nothing was kept"
        )
    if errno_value in (errno.EROFS, errno.EACCES, errno.EPERM) and filename:
        return DiskError(
            f"cannot write {filename}: {getattr(exc, 'strerror', '') or 'permission denied'}",
            hint="choose a writable location (or fix its permissions); nothing was kept",
        )
    return None
