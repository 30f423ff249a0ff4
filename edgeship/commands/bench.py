"""`edgeship bench`: latency of every variant on a device, compared across variants and devices."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from edgeship.console import results
from edgeship.manifest import Benchmark, Manifest

EMULATED_NOTE = (
    "emulated: QEMU milliseconds compare variants with each other; they are not the device's latency"
)


def latency_table(manifest: Manifest) -> Table:
    """One row per variant; per device its p50, p90 and p50 relative to the first variant measured there."""
    latest: dict[tuple[str, str], Benchmark] = {}
    for benchmark in sorted(manifest.benchmarks, key=lambda b: b.measured_at):
        latest[(benchmark.variant, benchmark.device)] = benchmark
    devices = list(dict.fromkeys(device for _, device in latest))
    emulated = {d for (_, d), b in latest.items() if b.emulated}
    table = Table(title=f"{manifest.source.model}: latency by variant and device", caption=None)
    for column in ("variant", "format", "precision", "size MB"):
        table.add_column(column, justify="left" if column != "size MB" else "right")
    for device in devices:
        label = f"{device} (emulated)" if device in emulated else device
        for stat in ("p50 ms", "p90 ms", "rel."):
            table.add_column(f"{label} {stat}", justify="right")
    baseline: dict[str, float] = {}
    for variant in manifest.variants:
        row = [variant.id, variant.format, variant.precision, f"{variant.bytes / 1e6:.2f}"]
        for device in devices:
            measured = latest.get((variant.id, device))
            if measured is None:
                row += ["-", "-", "-"]
                continue
            p50 = measured.latency_ms.p50
            baseline.setdefault(device, p50)
            row += [f"{p50:.2f}", f"{measured.latency_ms.p90:.2f}", f"{p50 / baseline[device]:.2f}x"]
        table.add_row(*row)
    if emulated:
        table.caption = EMULATED_NOTE
    return table


def register(app: typer.Typer) -> None:
    """Add the bench command."""

    @app.command()
    def bench(
        bundle: Path = typer.Argument(..., help="Bundle directory."),
        device: str = typer.Option(
            "local",
            help="Where to run: local, local-gpu, qemu-a72, or a device added with `edgeship devices add`.",
        ),
        variant: list[str] | None = typer.Option(None, help="Variant id (repeatable); default: all."),
        threads: int | None = typer.Option(None, help="Intra-op threads (default: the device's cores)."),
        runs: int | None = typer.Option(None, help="Timed runs (default 50; 5 on emulated devices)."),
        warmup: int | None = typer.Option(None, help="Untimed warm-up runs (default 5; 1 when emulated)."),
        batch: int = typer.Option(1, help="Batch size."),
        seq_len: int | None = typer.Option(
            None, help="Text models: sequence length (default: the bundle's)."
        ),
    ) -> None:
        """Benchmark each variant on a device (pushing what it lacks); raw results go to bench/<device>/,
        summaries to the manifest."""
        from edgeship.bundle import Bundle
        from edgeship.pipeline.bench import bench_bundle

        bench_bundle(
            bundle,
            device=device,
            variant_ids=variant,
            threads=threads,
            runs=runs,
            warmup=warmup,
            batch=batch,
            sequence_length=seq_len,
        )
        results.print(latency_table(Bundle.open(bundle).manifest))
