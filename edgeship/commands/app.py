"""`edgeship app`: the Android or iOS integration kit of a bundle."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeship.console import results


def register(app: typer.Typer) -> None:
    """Add the app command."""

    @app.command(name="app")
    def app_kit(
        bundle: Path = typer.Argument(..., help="Bundle directory."),
        platform: str = typer.Option(..., "--platform", "-p", help="android or ios."),
        artifact: str | None = typer.Option(
            None, help="tflite (LiteRT) or ort (ONNX Runtime); default: tflite on android, ort on ios."
        ),
        variant: str | None = typer.Option(
            None, help="Variant to ship (default: the most accurate, then best parity, then smallest)."
        ),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Directory that receives app/<platform>/ (default: the bundle)."
        ),
    ) -> None:
        """Write app/<platform>/: the artifact, metadata.json, labels, vocabulary, sample Kotlin or Swift
        code with pre- and post-processing, and a Python reference client."""
        from edgeship.appkit.kit import write_app_kit

        kit = write_app_kit(bundle, platform, artifact=artifact, variant_id=variant, out=out)
        results.print(f"Wrote the {platform} kit ({kit.variant.id} as {kit.artifact}) to {kit.root}:")
        for name in kit.files:
            results.print(f"  {name}")
