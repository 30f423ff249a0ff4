"""`edgeship distill`: train a smaller student from a teacher and write it as a bundle."""

from __future__ import annotations

import typer

from edgeship.cli_options import options_command
from edgeship.console import results
from edgeship.step_options import DistillStep


def register(app: typer.Typer) -> None:
    """Add the distill command."""

    @options_command(app, DistillStep)
    def distill(options: DistillStep) -> None:
        """Distill TEACHER into a smaller student trained on DATA; writes a student bundle (ONNX fp32)."""
        from edgeship.pipeline.distill import run_distill
        from edgeship.tables import variants_table
        from edgeship.tasks.base import get_task

        result = run_distill(options)
        record = result.record
        results.print(variants_table(result.bundle.manifest, title=f"Student ({record['description']})"))
        task = get_task(result.bundle.manifest.source.task)
        score = task.format_score(record["eval_scores"][-1]) if record["eval_scores"] else "-"
        results.print(
            f"Student {record['student_parameters'] / 1e6:.2f}M parameters vs teacher "
            f"{record['teacher_parameters'] / 1e6:.2f}M; PyTorch eval {task.metric} {score} on "
            f"{record['eval_samples']} examples; bundle at [bold]{result.bundle.root}[/bold]"
        )
