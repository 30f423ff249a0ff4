"""`edgeship eval`: accuracy of every variant on a labelled set."""

from __future__ import annotations

import typer

from edgeship.cli_options import options_command
from edgeship.console import results
from edgeship.step_options import EvalStep


def register(app: typer.Typer) -> None:
    """Add the eval command."""

    @options_command(app, EvalStep, name="eval")
    def evaluate(options: EvalStep) -> None:
        """Compute the task's metric (accuracy, Spearman) for each variant and record it in the manifest."""
        from edgeship.bundle import Bundle
        from edgeship.pipeline.evaluate import run_evaluate
        from edgeship.tables import variants_table

        run_evaluate(options)
        results.print(variants_table(Bundle.open(options.bundle).manifest))
