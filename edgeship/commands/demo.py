"""`edgeship demo`: the text recipe, offline, on the embedded default model and data."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import typer

DEMO_RECIPE = "text-rotten-tomatoes.yaml"


def register(app: typer.Typer) -> None:
    """Add the demo command."""

    @app.command()
    def demo(
        out: Path = typer.Option(Path("out"), "--out", "-o", help="Directory the demo's bundles go under."),
        set_values: list[str] | None = typer.Option(
            None, "--set", help="Override a recipe key: --set data.train_samples=500 (repeatable)."
        ),
        force: bool = typer.Option(False, help="Run every step again, the teacher's fine-tuning excepted."),
        mlflow: bool = typer.Option(False, help="Log the run to an MLflow file store (OUT/mlruns)."),
    ) -> None:
        """Run examples/text-rotten-tomatoes.yaml: fine-tune MiniLM-L6 on Rotten Tomatoes, distill a student,
        export ONNX + TFLite, quantize, evaluate, benchmark, report and app kits; all offline."""
        from edgeship.commands.run import run_recipe_file

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        with resources.as_file(resources.files("edgeship.recipe") / "examples" / DEMO_RECIPE) as recipe:
            run_recipe_file(recipe, out=out, overrides=set_values or [], force=force, mlflow=mlflow)
