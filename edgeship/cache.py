"""Where edgeship keeps what it builds once and reuses: $EDGESHIP_CACHE, else ~/.cache/edgeship."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """edgeship's cache directory (fine-tuned teachers, packaged weights, the emulator userland)."""
    return Path(os.environ.get("EDGESHIP_CACHE") or Path.home() / ".cache" / "edgeship")
