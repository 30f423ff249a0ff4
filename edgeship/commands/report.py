"""`edgeship report`: Markdown and HTML report of a bundle, with plots."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeship.console import results


def register(app: typer.Typer) -> None:
    """Add the report command."""

    @app.command()
    def report(
        bundle: Path = typer.Argument(..., help="Bundle directory."),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Directory for report.md, report.html and plots/ (default: the bundle)."
        ),
    ) -> None:
        """Write report.md and a self-contained report.html: variants, accuracy/size vs latency per device
        (Pareto front marked), layers kept in float, tool versions."""
        from edgeship.report.write import write_report

        written = write_report(bundle, out)
        results.print(f"Wrote {written[0]}, {written[1]} and {len(written) - 2} plots")
