"""`edgeship eval`: accuracy of every variant on a labelled set."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeship.console import results


def register(app: typer.Typer) -> None:
    """Add the eval command."""

    @app.command("eval")
    def evaluate(
        bundle: Path = typer.Argument(..., help="Bundle directory."),
        data: Path = typer.Option(
            ..., help="CSV/JSONL with text and label columns, or an image folder DIR/<label>/."
        ),
        variant: list[str] | None = typer.Option(None, help="Variant id (repeatable); default: all."),
        split: str = typer.Option("eval", help="Name of the split, recorded in the manifest."),
        batch_size: int = typer.Option(32, min=1),
    ) -> None:
        """Compute accuracy for each variant and record it in the manifest."""
        from edgeship.bundle import Bundle
        from edgeship.pipeline.evaluate import evaluate_bundle
        from edgeship.tables import variants_table

        evaluate_bundle(bundle, data, variant_ids=variant, split=split, batch_size=batch_size)
        results.print(variants_table(Bundle.open(bundle).manifest))
