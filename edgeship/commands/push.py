"""`edgeship push`: copy a bundle's variants to a device, verified by sha256, skipping unchanged files; or
roll them out over several devices, checked on canaries first (pipeline/rollout.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from edgeship.cli_options import options_command
from edgeship.console import results
from edgeship.step_options import PushStep

if TYPE_CHECKING:
    from rich.table import Table

    from edgeship.bundle import Bundle
    from edgeship.devices.base import Device
    from edgeship.manifest import Variant
    from edgeship.pipeline.rollout import DeviceOutcome


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

    @options_command(app, PushStep)
    def push(options: PushStep) -> None:
        """Upload the variants' files to a device (unchanged files are skipped), or roll them out over
        --devices: staged, checked on the canaries, then promoted by atomic rename, stopping at a failure."""
        from edgeship.bundle import Bundle
        from edgeship.devices.registry import get_device
        from edgeship.errors import DeviceError

        opened = Bundle.open(options.bundle)
        selected = opened.select_variants(options.variant)
        if options.device and options.canary is None and options.max_parity_diff is None:
            _push_one(opened, get_device(options.device), selected)
            return
        from edgeship.pipeline.rollout import rollout

        targets = [get_device(name) for name in options.devices or [options.device or ""]]
        outcomes = rollout(targets, opened, selected, options.canary or 1, options.max_parity_diff)
        results.print(rollout_table(outcomes))
        failed = next((o for o in outcomes if o.status == "failed"), None)
        if failed:
            raise DeviceError(
                f"rollout stopped at {failed.role} '{failed.device}': {failed.reason}", hint=failed.hint
            )


def _push_one(bundle: Bundle, target: Device, variants: list[Variant]) -> None:
    """The single-device push: every variant's file straight to its place, verified."""
    from edgeship.pipeline.push import push_variants

    for pushed in push_variants(bundle, target, variants):
        if not target.remote:
            state = "read in place on this machine"
        else:
            state = "sent, sha256 verified" if pushed.sent else "unchanged on the device, skipped"
        results.print(f"{pushed.variant}: {pushed.location} ({state})")
