"""`edgeship debug`'s table (worst layers marked) and its plot (SNR against depth, a line per variant)."""

from __future__ import annotations

from rich.table import Table

from edgeship.manifest import JUMP_DB, SNR_CEILING_DB, LayerDebug


def layer_table(record: LayerDebug, limit: int | None = None) -> Table:
    """One row per layer in depth order; the first jump and the worst layers marked."""
    table = Table(
        title=f"{record.variant} against {record.against} on {record.device}: "
        f"{len(record.layers)} layers, {record.samples} inputs ({record.data})"
    )
    for column, justify in [
        ("#", "right"),
        ("layer", "left"),
        ("SNR dB", "right"),
        ("cosine", "right"),
        ("max |Δ|", "right"),
        ("rel. error", "right"),
        ("scale", "right"),
        ("clipped", "right"),
        ("", "left"),
    ]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    rows = list(enumerate(record.layers))
    if limit is not None and len(rows) > limit:
        marked = {record.first_jump, *record.worst}
        keep = {i for i, layer in rows if layer.layer in marked} | set(range(len(rows) - 3, len(rows)))
        keep |= {i for i, _ in rows[: max(limit - len(keep), 0)]}
        rows = [row for row in rows if row[0] in keep]
    for index, layer in rows:
        table.add_row(
            str(index),
            layer.layer,
            _snr(layer.snr_db),
            f"{layer.cosine:.5f}",
            f"{layer.max_abs_error:.3g}",
            f"{layer.relative_error:.2e}",
            f"{layer.scale:.3g}" if layer.scale is not None else "-",
            f"{layer.clipped_fraction:.2%}" if layer.clipped_fraction is not None else "-",
            _mark(record, layer.layer),
            style="bold red" if layer.layer in record.worst else None,
        )
    return table


def summary_line(record: LayerDebug) -> str:
    """`first jump: X; worst: A, B, C`."""
    jump = record.first_jump or f"none (no layer loses {JUMP_DB:.0f} dB or more)"
    return f"first jump: {jump}; worst: {', '.join(record.worst) or 'none'}"


def _snr(value: float) -> str:
    return f">{SNR_CEILING_DB:.0f}" if value >= SNR_CEILING_DB else f"{value:.1f}"


def _mark(record: LayerDebug, layer: str) -> str:
    marks = (["first jump"] if layer == record.first_jump else []) + (
        ["worst"] if layer in record.worst else []
    )
    return ", ".join(marks)
