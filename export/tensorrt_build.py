"""ONNX -> serialized TensorRT engine with the tensorrt Python API: flags, shape profile, timing cache.

The builder configuration itself is the agent's (`runtimes/agent.py`), so an engine built here and one the
agent builds on a device (`edgeship export --device`) come from the same settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgeship.errors import EdgeshipError, UnsupportedModelError
from edgeship.export.registry import ExportPrecision
from edgeship.export.tensorrt_config import ShapeRange, profile_options
from edgeship.manifest import GpuTarget
from edgeship.runtimes import agent


def default_timing_cache(target: GpuTarget) -> Path:
    """A per-GPU, per-TensorRT timing cache under the user's cache folder (re-used by later builds)."""
    return Path(agent.default_timing_cache(target.compute_capability, target.tensorrt))


def build_engine(
    trt: Any,
    onnx_path: Path,
    destination: Path,
    *,
    precision: ExportPrecision,
    profile: list[ShapeRange],
    workspace_mb: int,
    timing_cache: Path,
) -> int:
    """Parse `onnx_path`, build and write the engine to `destination`; returns the network's layer count."""
    cache = timing_cache.read_bytes() if timing_cache.is_file() else b""
    try:
        engine, cache, layers = agent.tensorrt_build(
            trt, str(onnx_path), precision, profile_options(profile), workspace_mb, cache
        )
    except agent.GraphRefused as refused:
        raise UnsupportedModelError(
            str(refused), hint="export with --no-optimize, or report the operator to edgeship"
        ) from refused
    except agent.BuildFailed as failed:
        raise EdgeshipError(
            f"{failed} (its log above says why)",
            hint=f"raise --workspace-mb (used {workspace_mb}) or try another --precision",
        ) from failed
    destination.write_bytes(engine)
    _save_timing_cache(timing_cache, cache)
    return layers


def _save_timing_cache(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(path)
