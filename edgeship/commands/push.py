"""`edgeship push`: copy a bundle's variants to a device, verified by sha256, skipping unchanged files; or
roll them out over several devices, checked on canaries first (devices/rollout.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from edgeship.console import results

if TYPE_CHECKING:
    from rich.table import Table

    from edgeship.bundle import Bundle
    from edgeship.devices.base import Device
    from edgeship.devices.rollout import DeviceOutcome
    from edgeship.manifest import Variant


def split_devices(values: list[str]) -> list[str]:
    """Device names from repeated and/or comma-separated --devices values."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _per_variant(values: dict[str, float], form: str) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return format(next(iter(values.values())), form)
    return "\n".join(f"{variant} {format(value, form)}" for variant, value in values.items())


def rollout_table(outcomes: list[DeviceOutcome]) -> Table:
    """One row per device: its role, what happened there, and the canaries' p50 and parity."""
    from rich.table import Table

    table = Table(title="Rollout")
    for column, justify in [
        ("device", "left"),
        ("role", "left"),
        ("status", "left"),
        ("p50 ms", "right"),
        ("parity max|Δ|", "right"),
    ]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for outcome in outcomes:
        status = {
            "promoted": "[green]promoted[/green]"
            + (" (reads the bundle in place)" if outcome.in_place else ""),
            "failed": f"[red]failed: {outcome.reason}[/red]",
            "withdrawn": f"withdrawn: {outcome.reason}",
            "not reached": "not reached",
        }[outcome.status]
        table.add_row(
            outcome.device,
            outcome.role,
            status,
            _per_variant(outcome.latency_p50_ms, ".2f"),
            _per_variant(outcome.parity_max_diff, ".2e"),
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the push command."""

    @app.command()
    def push(
        bundle: Path = typer.Argument(..., help="Bundle directory."),
        device: str | None = typer.Option(None, help="A device added with `edgeship devices add`."),
        devices: list[str] | None = typer.Option(
            None,
            help="Staged rollout over these devices, in order: comma-separated or repeated.",
        ),
        canary: int | None = typer.Option(
            None,
            help="Rollout: the first N devices get the files staged, benchmarked and parity-checked before "
            "any device's live files change (default 1).",
        ),
        variant: list[str] | None = typer.Option(None, help="Variant id (repeatable); default: all."),
        max_parity_diff: float | None = typer.Option(
            None,
            help="Rollout: max |device - this machine| over the outputs on a canary (default: the variant's "
            "parity tolerance, else 1e-3).",
        ),
    ) -> None:
        """Upload the variants' files to a device (unchanged files are skipped), or roll them out over
        --devices: staged, checked on the canaries, then promoted by atomic rename, stopping at a failure."""
        from edgeship.bundle import Bundle
        from edgeship.devices.registry import get_device
        from edgeship.errors import DeviceError

        names = split_devices(devices or [])
        if bool(names) == bool(device):
            raise DeviceError(
                "push needs one of --device NAME or --devices A,B,C", hint="pass exactly one of them"
            )
        opened = Bundle.open(bundle)
        selected = opened.select_variants(variant)
        if device and canary is None and max_parity_diff is None:
            _push_one(opened, get_device(device), selected)
            return
        from edgeship.devices.rollout import rollout

        targets = [get_device(name) for name in names or [device or ""]]
        outcomes = rollout(targets, opened, selected, canary if canary is not None else 1, max_parity_diff)
        results.print(rollout_table(outcomes))
        failed = next((o for o in outcomes if o.status == "failed"), None)
        if failed:
            raise DeviceError(
                f"rollout stopped at {failed.role} '{failed.device}': {failed.reason}", hint=failed.hint
            )


def _push_one(bundle: Bundle, target: Device, variants: list[Variant]) -> None:
    """The single-device push: every variant's file straight to its place, verified."""
    from edgeship.devices.push import push_variants

    for pushed in push_variants(bundle, target, variants):
        if not target.remote:
            state = "read in place on this machine"
        else:
            state = "sent, sha256 verified" if pushed.sent else "unchanged on the device, skipped"
        results.print(f"{pushed.variant}: {pushed.location} ({state})")
