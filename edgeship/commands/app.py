"""`edgeship app`: the Android, iOS, web or React Native integration kit of a bundle."""

from __future__ import annotations

import typer

from edgeship.cli_options import options_command
from edgeship.console import results
from edgeship.step_options import AppStep


def register(app: typer.Typer) -> None:
    """Add the app command."""

    @options_command(app, AppStep, name="app")
    def app_kit(options: AppStep) -> None:
        """Write app/<platform>/: the artifact, metadata.json, labels, tokenizer, sample Kotlin, Swift or
        JavaScript code with pre- and post-processing, and a Python reference client."""
        from edgeship.appkit.kit import write_app_kit

        kit = write_app_kit(
            options.bundle,
            options.platform,
            artifact=options.artifact,
            variant_id=options.variant,
            out=options.out,
            max_accuracy_drop=options.max_accuracy_drop,
            force=options.force,
        )
        results.print(f"Wrote the {options.platform} kit ({kit.variant.id} as {kit.artifact}) to {kit.root}:")
        for name in kit.files:
            results.print(f"  {name}")
        results.print(f"Why {kit.variant.id}: {kit.reason}")
        for note in kit.notes:
            results.print(f"Note: {note}")
