"""What the benchmark scripts read back: a bundle's recorded latency, and the host that measured it."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def p50(manifest: Any, variant_id: str, device: str) -> float | None:
    """The latest p50 the bundle records for the variant on the device."""
    measured = [b for b in manifest.benchmarks if b.variant == variant_id and b.device == device]
    return measured[-1].latency_ms.p50 if measured else None


def cpu_name() -> str:
    """The CPU's model name (int8 speed and accuracy depend on its VNNI / dot-product instructions)."""
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown"
