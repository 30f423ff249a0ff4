"""`edgeship run RECIPE`: teacher -> student -> quantized artifacts -> benchmarks -> report and app kit."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from edgeship.cli_options import options_command
from edgeship.console import results
from edgeship.step_options import RunStep


def register(app: typer.Typer) -> None:
    """Add the run command."""

    @options_command(app, RunStep)
    def run(options: RunStep) -> None:
        """Run a recipe; steps whose inputs did not change since the last run into OUT are reused."""
        run_recipe_file(
            options.recipe,
            out=options.out,
            overrides=options.set_values,
            force=options.force,
            mlflow=options.mlflow,
        )


def run_recipe_file(
    recipe_file: Path, *, out: Path | None, overrides: list[str], force: bool, mlflow: bool
) -> None:
    """Load, run and summarise a recipe (shared by `run` and `demo`)."""
    from edgeship.bundle import Bundle
    from edgeship.cache import cache_root
    from edgeship.recipe.load import load_recipe
    from edgeship.recipe.run import run_recipe
    from edgeship.tables import variants_table

    recipe = load_recipe(recipe_file, overrides)
    result = run_recipe(recipe, out=out, cache_dir=cache_root(), force=force, mlflow=mlflow)
    for role, root in result.bundles.items():
        manifest = Bundle.open(root).manifest
        results.print(variants_table(manifest, title=f"{recipe.name} {role}: {manifest.source.model}"))
    table = Table(title=f"Steps of {recipe_file.name}")
    for column in ("step", "status", "seconds", "detail"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for record in result.records:
        seconds = f"{record.seconds:.1f}" if record.status == "ran" else "-"
        table.add_row(record.step, record.status, seconds, record.detail)
    results.print(table)
    ran = len(result.ran)
    summary = (
        f"{ran} step(s) ran, {len(result.records) - ran} reused" if ran else "nothing changed: no step ran"
    )
    places = ", ".join(str(root) for root in result.bundles.values())
    results.print(f"{summary}; bundles in [bold]{places}[/bold]; finished in {result.seconds:.0f} s")
