"""`edgeship bench`: latency of every variant on a device, compared across variants and devices."""

from __future__ import annotations

import typer
from rich.table import Table

from edgeship.cli_options import options_command
from edgeship.console import results
from edgeship.manifest import Benchmark, Manifest
from edgeship.step_options import BenchStep

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

    @options_command(app, BenchStep)
    def bench(options: BenchStep) -> None:
        """Benchmark each variant on a device (pushing what it lacks); raw results go to bench/<device>/,
        summaries to the manifest."""
        from edgeship.bundle import Bundle
        from edgeship.pipeline.bench import run_bench

        run_bench(options)
        results.print(latency_table(Bundle.open(options.bundle).manifest))
