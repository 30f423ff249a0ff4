"""`edgeship push`: copy a bundle's variants to a device, verified by sha256, skipping unchanged files."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeship.console import results


def register(app: typer.Typer) -> None:
    """Add the push command."""

    @app.command()
    def push(
        bundle: Path = typer.Argument(..., help="Bundle directory."),
        device: str = typer.Option(..., help="A device added with `edgeship devices add`."),
        variant: list[str] | None = typer.Option(None, help="Variant id (repeatable); default: all."),
    ) -> None:
        """Upload the variants' files to the device; files it already holds unchanged are skipped."""
        from edgeship.bundle import Bundle
        from edgeship.devices.push import push_variants
        from edgeship.devices.registry import get_device

        opened = Bundle.open(bundle)
        target = get_device(device)
        for pushed in push_variants(opened, target, opened.select_variants(variant)):
            if not target.remote:
                state = "read in place on this machine"
            else:
                state = "sent, sha256 verified" if pushed.sent else "unchanged on the device, skipped"
            results.print(f"{pushed.variant}: {pushed.location} ({state})")
