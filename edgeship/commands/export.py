"""`edgeship export`: write an artifact of a model into a bundle, checked for parity."""

from __future__ import annotations

import typer

from edgeship.cli_options import options_command
from edgeship.console import results
from edgeship.step_options import ExportStep


def register(app: typer.Typer) -> None:
    """Add the export command."""

    @options_command(app, ExportStep)
    def export(options: ExportStep) -> None:
        """Export MODEL to an artifact in a bundle; fails if it disagrees with PyTorch."""
        from edgeship.pipeline.export import run_export
        from edgeship.tables import variants_table

        bundle, variant = run_export(options)
        results.print(variants_table(bundle.manifest))
        results.print(f"Wrote [bold]{variant.id}[/bold] to {bundle.root}")
