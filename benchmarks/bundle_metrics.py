"""Shared by the distillation benchmarks: accuracy, size and latency of a bundle's first (fp32 ONNX) variant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

THREADS = 2


def measure(bundle_dir: Path, test: Any, runs: int, warmup: int) -> dict[str, Any]:
    """Evaluate and benchmark the bundle (local agent, batch 1, THREADS threads); its first variant's figures."""
    from edgeship.bundle import Bundle
    from edgeship.pipeline.bench import bench_bundle
    from edgeship.pipeline.evaluate import evaluate_bundle

    evaluate_bundle(bundle_dir, test, split="test")
    bench_bundle(bundle_dir, runs=runs, warmup=warmup, threads=THREADS)
    manifest = Bundle.open(bundle_dir).manifest
    variant = manifest.variants[0]
    bench = next(b for b in manifest.benchmarks if b.variant == variant.id)
    return {"bytes": variant.bytes, "accuracy": variant.accuracy, "p50_ms": bench.latency_ms.p50}
