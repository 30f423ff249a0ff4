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


def comparison_table(rows: list[dict[str, Any]], title: str, training_seconds: bool = False) -> Any:
    """Add speed-up and accuracy relative to the first row (the teacher) to each row; return them as a table."""
    from rich.table import Table

    teacher = rows[0]
    for row in rows:
        row["speedup"] = teacher["p50_ms"] / row["p50_ms"]
        row["accuracy_vs_teacher"] = row["accuracy"] / teacher["accuracy"]
    columns = ["model", "params M", "ONNX MB", "p50 ms", "speed-up", "accuracy", "vs teacher"]
    table = Table(title=title)
    for column in columns + (["train s"] if training_seconds else []):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in rows:
        cells = [
            row["model"],
            f"{row['parameters'] / 1e6:.2f}",
            f"{row['bytes'] / 1e6:.1f}",
            f"{row['p50_ms']:.2f}",
            f"{row['speedup']:.2f}x",
            f"{row['accuracy']:.2%}",
            f"{row['accuracy_vs_teacher']:.1%}",
        ]
        table.add_row(*cells, *([f"{row['seconds_training']:.0f}"] if training_seconds else []))
    return table
