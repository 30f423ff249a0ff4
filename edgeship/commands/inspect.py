"""`edgeship info` and `edgeship schema`: read a bundle, print the manifest's JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from edgeship.console import results


def register(app: typer.Typer) -> None:
    """Add the info and schema commands."""

    @app.command()
    def info(bundle: Path = typer.Argument(..., help="Bundle directory.")) -> None:
        """Show a bundle's variants with their parity, accuracy and latency."""
        from edgeship.bundle import Bundle
        from edgeship.tables import variants_table

        results.print(variants_table(Bundle.open(bundle).manifest))

    @app.command()
    def schema() -> None:
        """Print the manifest's JSON Schema (docs/manifest.schema.json is generated from it)."""
        from edgeship.manifest import manifest_json_schema

        typer.echo(json.dumps(manifest_json_schema(), indent=2))
