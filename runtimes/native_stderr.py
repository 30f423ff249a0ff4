"""Hide what native libraries print straight to file descriptor 2 (INFO banners, op counts)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def silenced_native_stderr() -> Iterator[None]:
    """Send fd 2 to /dev/null for the block; Python exceptions still carry the libraries' errors."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
