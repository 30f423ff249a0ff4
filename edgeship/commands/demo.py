"""`edgeship demo`: the text recipe, offline, on the embedded default model and data."""

from __future__ import annotations

import os
from importlib import resources

import typer

from edgeship.cli_options import options_command
from edgeship.step_options import DemoStep

DEMO_RECIPE = "text-rotten-tomatoes.yaml"


def register(app: typer.Typer) -> None:
    """Add the demo command."""

    @options_command(app, DemoStep)
    def demo(options: DemoStep) -> None:
        """Run examples/text-rotten-tomatoes.yaml: fine-tune MiniLM-L6 on Rotten Tomatoes, distill a student,
        export ONNX + TFLite, quantize, evaluate, benchmark, report and app kits; all offline."""
        from edgeship.commands.run import run_recipe_file

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        with resources.as_file(resources.files("edgeship.recipe") / "examples" / DEMO_RECIPE) as recipe:
            run_recipe_file(
                recipe,
                out=options.out,
                overrides=options.set_values,
                force=options.force,
                mlflow=options.mlflow,
            )
