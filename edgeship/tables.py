"""Rich tables that compare a bundle's variants: size, parity, accuracy and latency side by side."""

from __future__ import annotations

from rich.table import Table

from edgeship.manifest import Benchmark, Manifest
from edgeship.tasks.base import get_task


def variants_table(manifest: Manifest, title: str | None = None) -> Table:
    """One row per variant and benchmark device."""
    table = Table(title=title or f"{manifest.source.model} ({manifest.source.task})")
    task = get_task(manifest.source.task)
    for column, justify in [
        ("variant", "left"),
        ("format", "left"),
        ("precision", "left"),
        ("size MB", "right"),
        ("parity max|Δ|", "right"),
        ("parity agree", "right"),
        (task.metric, "right"),
        ("agree vs fp32", "right"),
        ("device", "left"),
        ("p50 ms", "right"),
        ("p90 ms", "right"),
        ("threads", "right"),
    ]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for variant in manifest.variants:
        parity = variant.parity
        accuracy = task.format_score(variant.accuracy) if variant.accuracy is not None else "-"
        benchmarks: list[Benchmark | None] = [b for b in manifest.benchmarks if b.variant == variant.id] or [
            None
        ]
        for benchmark in benchmarks:
            table.add_row(
                variant.id,
                variant.format,
                variant.precision,
                f"{variant.bytes / 1e6:.2f}",
                f"{parity.max_abs_diff:.2e}" if parity else "-",
                f"{parity.argmax_agreement:.3f}" if parity else "-",
                accuracy,
                f"{variant.eval_agreement:.3f}" if variant.eval_agreement is not None else "-",
                (benchmark.device + (" (emulated)" if benchmark.emulated else "")) if benchmark else "-",
                f"{benchmark.latency_ms.p50:.2f}" if benchmark else "-",
                f"{benchmark.latency_ms.p90:.2f}" if benchmark else "-",
                str(benchmark.threads) if benchmark else "-",
            )
    return table
