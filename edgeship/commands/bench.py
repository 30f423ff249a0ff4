"""`edgeship bench`: latency of every variant on a device."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeship.console import results


def register(app: typer.Typer) -> None:
    """Add the bench command."""

    @app.command()
    def bench(
        bundle: Path = typer.Argument(..., help="Bundle directory."),
        device: str = typer.Option("local", help="Where to run: local."),
        variant: list[str] | None = typer.Option(None, help="Variant id (repeatable); default: all."),
        threads: int | None = typer.Option(None, help="Intra-op threads (default: all cores)."),
        runs: int = typer.Option(50, help="Timed runs."),
        warmup: int = typer.Option(5, help="Untimed warm-up runs."),
        batch: int = typer.Option(1, help="Batch size."),
        seq_len: int | None = typer.Option(
            None, help="Text models: sequence length (default: the bundle's)."
        ),
    ) -> None:
        """Benchmark each variant; raw results go to bench/<device>/, summaries to the manifest."""
        from edgeship.bundle import Bundle
        from edgeship.pipeline.bench import bench_bundle
        from edgeship.tables import variants_table

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
        results.print(variants_table(Bundle.open(bundle).manifest))
