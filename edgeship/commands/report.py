"""`edgeship report`: Markdown and HTML report of a bundle, with plots."""

from __future__ import annotations

import typer

from edgeship.cli_options import options_command
from edgeship.console import results
from edgeship.step_options import ReportStep


def register(app: typer.Typer) -> None:
    """Add the report command."""

    @options_command(app, ReportStep)
    def report(options: ReportStep) -> None:
        """Write report.md and a self-contained report.html: variants, accuracy/size vs latency per device
        (Pareto front marked), layers kept in float, tool versions."""
        from edgeship.report.write import write_report

        written = write_report(options.bundle, options.out)
        results.print(f"Wrote {written[0]}, {written[1]} and {len(written) - 2} plots")
