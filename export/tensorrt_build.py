"""ONNX -> serialized TensorRT engine with the tensorrt Python API: flags, shape profile, timing cache."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgeship.errors import EdgeshipError, UnsupportedModelError
from edgeship.export.registry import ExportPrecision
from edgeship.export.tensorrt_config import BUILDER_FLAGS, ShapeRange
from edgeship.manifest import GpuTarget


def default_timing_cache(target: GpuTarget) -> Path:
    """A per-GPU, per-TensorRT timing cache under the user's cache folder (re-used by later builds)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    name = f"sm{target.compute_capability.replace('.', '')}-trt{target.tensorrt}.timing"
    return root / "edgeship" / "tensorrt" / name


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
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(_network_flags(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        first = parser.get_error(0).desc() if parser.num_errors else "no detail"
        raise UnsupportedModelError(
            f"TensorRT's ONNX parser refused the graph: {first}",
            hint="export with --no-optimize, or report the operator to edgeship",
        )
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    for flag in BUILDER_FLAGS[precision]:
        config.set_flag(getattr(trt.BuilderFlag, flag))
    shapes = builder.create_optimization_profile()
    for entry in profile:
        shapes.set_shape(entry.name, entry.min, entry.opt, entry.max)
    config.add_optimization_profile(shapes)
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EdgeshipError(
            f"TensorRT could not build a {precision} engine (its log above says why)",
            hint=f"raise --workspace-mb (used {workspace_mb}) or try another --precision",
        )
    destination.write_bytes(bytes(serialized))
    _save_timing_cache(timing_cache, bytes(config.get_timing_cache().serialize()))
    return int(network.num_layers)


def _network_flags(trt: Any) -> int:
    """Explicit batch: the only mode in TensorRT 10, a flag before it (JetPack 5 ships TensorRT 8.5)."""
    if int(trt.__version__.split(".")[0]) >= 10:
        return 0
    return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)


def _save_timing_cache(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(path)
