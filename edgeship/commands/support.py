"""`edgeship support`: run (or show a saved run of) the architecture conformance matrix."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from edgeship.cli_options import options_command
from edgeship.console import console, results
from edgeship.errors import DataError
from edgeship.step_options import SupportStep

if TYPE_CHECKING:
    from edgeship.conformance.results import MatrixRun


def register(app: typer.Typer) -> None:
    """Add the support command."""

    @options_command(app, SupportStep)
    def support(options: SupportStep) -> None:
        """Which model families export and quantize to ONNX and TFLite: pass / fail (with reason) / n/a."""
        from edgeship.conformance.families import CELLS, FAMILY_NAMES, TASK_NAMES, get_family
        from edgeship.conformance.render import matrix_markdown, matrix_table
        from edgeship.conformance.results import load_run, save_run

        task_names = _pick(options.tasks, TASK_NAMES, "task", "--tasks")
        family_names = [
            name
            for name in _pick(options.families, FAMILY_NAMES, "family", "--families")
            if get_family(name).task in task_names
        ]
        if not family_names:
            raise DataError(
                f"no family of --families {options.families} is exported for --tasks {options.tasks}",
                hint="drop one of the two options, or see docs/support-matrix.md for each family's task",
            )
        cell_names = _pick(options.cells, CELLS, "cell", "--cells")
        if options.saved is not None:
            run = load_run(options.saved).subset(family_names, cell_names)
        else:
            run = _run(family_names, cell_names, options.timeout, options.workdir)
        if options.save is not None:
            save_run(run, options.save)
        if options.markdown is not None:
            options.markdown.parent.mkdir(parents=True, exist_ok=True)
            options.markdown.write_text(matrix_markdown(run), encoding="utf-8")
        results.print(matrix_table(run))


def _pick(value: str | None, known: tuple[str, ...], kind: str, option: str) -> list[str]:
    """The names in a comma-separated option, in the matrix's order; unknown names fail with the list."""
    if value is None:
        return list(known)
    wanted = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown or not wanted:
        raise DataError(
            f"unknown {kind} '{', '.join(unknown)}' in {option}", hint=f"choose from: {', '.join(known)}"
        )
    return [name for name in known if name in wanted]


def _run(families: list[str], cells: list[str], timeout: float, workdir: Path | None) -> MatrixRun:
    """Run the matrix, printing each verdict as it lands."""
    from edgeship.conformance.results import CellResult
    from edgeship.conformance.runner import run_matrix

    def progress(result: CellResult) -> None:
        style = {"pass": "green", "fail": "red"}.get(result.status, "dim")
        console.print(
            f"[{style}]{result.status:4}[/{style}] {result.family} / {result.cell} ({result.seconds:.0f} s)"
        )

    if workdir is not None:
        return run_matrix(families, cells, workdir, cell_timeout_s=timeout, on_result=progress)
    with tempfile.TemporaryDirectory(prefix="edgeship-support-") as scratch:
        return run_matrix(families, cells, Path(scratch), cell_timeout_s=timeout, on_result=progress)
