"""Matplotlib charts for the report: accuracy vs latency (Pareto front marked), size vs latency, and
layer-by-layer SNR."""

from __future__ import annotations

import io
from typing import Any

from edgeship.errors import MissingDependencyError
from edgeship.manifest import SNR_CEILING_DB, LayerDebug
from edgeship.report.points import Point, pareto_front
from edgeship.tasks.base import Task

PRECISION_COLOURS = {
    "fp32": "#1f77b4",
    "fp16": "#17becf",
    "int8-dynamic": "#ff7f0e",
    "int8-static": "#d62728",
    "int4-weight": "#9467bd",
}
FORMAT_MARKERS = {"onnx": "o", "tflite": "s", "ort": "D", "tensorrt": "^"}


def _new_axes(title: str, xlabel: str, ylabel: str) -> tuple[Any, Any]:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingDependencyError(
            "the report's plots need matplotlib, which is not installed",
            hint="pip install 'edgeship[report]'",
        ) from exc
    figure = Figure(figsize=(7.5, 4.8), dpi=110, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _scatter(axes: Any, points: list[Point], values: list[float]) -> None:
    """One marker per variant (colour: precision, shape: format), p50-to-p90 whisker, id beside it."""
    for point, value in zip(points, values, strict=True):
        colour = PRECISION_COLOURS.get(point.variant.precision, "#555555")
        spread = max(point.benchmark.latency_ms.p90 - point.p50, 0.0)
        axes.errorbar(
            point.p50, value, xerr=[[0.0], [spread]], fmt="none", ecolor=colour, alpha=0.5, capsize=3
        )
        axes.scatter(
            point.p50,
            value,
            s=70,
            color=colour,
            marker=FORMAT_MARKERS.get(point.variant.format, "o"),
            edgecolors="black",
            linewidths=0.5,
            zorder=3,
        )
    for point, value, offset in zip(points, values, _label_offsets(points, values), strict=True):
        axes.annotate(
            point.variant.id, (point.p50, value), textcoords="offset points", xytext=offset, fontsize=8
        )
    axes.margins(x=0.2, y=0.15)
    slowest = max(p.benchmark.latency_ms.p90 for p in points)
    axes.set_xlim(0, max(axes.get_xlim()[1], 1.3 * slowest))  # room for the labels right of the markers


def _label_offsets(points: list[Point], values: list[float]) -> list[tuple[int, int]]:
    """Label offsets (points) that step down past labels already placed near the same spot."""
    xs, ys = [p.p50 for p in points], values
    x_span, y_span = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    placed: list[tuple[float, float]] = []
    offsets = []
    for x, y in zip(xs, ys, strict=True):
        spot = ((x - min(xs)) / x_span, (y - min(ys)) / y_span)
        near = sum(1 for px, py in placed if abs(px - spot[0]) < 0.25 and abs(py - spot[1]) < 0.08)
        placed.append(spot)
        offsets.append((7, 5 - 13 * near))
    return offsets


def _legend(axes: Any, points: list[Point], extra: list[Any] | None = None) -> None:
    from matplotlib.lines import Line2D

    handles = list(extra or [])
    for precision in dict.fromkeys(p.variant.precision for p in points):
        colour = PRECISION_COLOURS.get(precision, "#555555")
        handles.append(Line2D([], [], marker="o", linestyle="", color=colour, label=precision))
    for artifact_format in dict.fromkeys(p.variant.format for p in points):
        marker = FORMAT_MARKERS.get(artifact_format, "o")
        handles.append(Line2D([], [], marker=marker, linestyle="", color="grey", label=artifact_format))
    axes.legend(handles=handles, fontsize=8, loc="best")


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def accuracy_vs_latency_png(points: list[Point], device_label: str, task: Task) -> bytes:
    """The task's metric (accuracy in %, a correlation as it is) against p50 latency; the Pareto-optimal
    variants joined by a dashed line."""
    scored = [p for p in points if p.variant.accuracy is not None]
    figure, axes = _new_axes(
        f"{task.metric.capitalize()} vs latency on {device_label}",
        "p50 latency (ms), whisker to p90",
        task.axis_label,
    )
    _scatter(axes, scored, [task.plotted_score(p.variant.accuracy or 0.0) for p in scored])
    front = pareto_front(scored)
    (line,) = axes.plot(
        [p.p50 for p in front],
        [task.plotted_score(p.variant.accuracy or 0.0) for p in front],
        linestyle="--",
        color="black",
        marker="o",
        markersize=14,
        markerfacecolor="none",
        drawstyle="steps-post",
        label="Pareto front",
        zorder=2,
    )
    _legend(axes, scored, [line])
    return _png(figure)


def size_vs_latency_png(points: list[Point], device_label: str) -> bytes:
    """Artifact size (MB) against p50 latency."""
    figure, axes = _new_axes(
        f"Size vs latency on {device_label}", "p50 latency (ms), whisker to p90", "size (MB)"
    )
    sizes = [p.megabytes for p in points]
    _scatter(axes, points, sizes)
    axes.set_ylim(0, 1.15 * max(sizes))
    _legend(axes, points)
    return _png(figure)


def snr_by_depth_png(records: list[LayerDebug]) -> bytes:
    """SNR (dB) against layer depth, one line per variant, layers at one x position across variants; the
    worst layers marked and named."""
    against = sorted({record.against for record in records})
    figure, axes = _new_axes(
        f"Layer by layer against {', '.join(against)}", "layer (depth order)", "SNR (dB, higher is closer)"
    )
    depth_of = {name: depth for depth, name in enumerate(_merged_order([r.layers for r in records]))}
    for record in records:
        depth = [depth_of[layer.layer] for layer in record.layers]
        snr = [min(layer.snr_db, SNR_CEILING_DB) for layer in record.layers]
        (line,) = axes.plot(
            depth, snr, marker=".", linewidth=1.2, label=f"{record.variant} ({record.device})"
        )
        for i, layer in enumerate(record.layers):
            if layer.layer in record.worst:
                axes.scatter(depth[i], snr[i], s=60, color=line.get_color(), zorder=3)
                axes.annotate(
                    layer.layer.removeprefix("model."),
                    (depth[i], snr[i]),
                    fontsize=7,
                    xytext=(4, 4),
                    textcoords="offset points",
                )
    axes.axhline(SNR_CEILING_DB, color="grey", linestyle=":", linewidth=1, label="exact (float rounding)")
    axes.set_ylim(min(0.0, axes.get_ylim()[0]), SNR_CEILING_DB + 5)
    axes.legend(fontsize=8, loc="center right")
    return _png(figure)


def _merged_order(sequences: list[list[Any]]) -> list[str]:
    """Layer names of several depth-ordered lists in one order: a name one list lacks goes right after the
    name that precedes it in the list that has it."""
    order: list[str] = []
    for layers in sequences:
        position = -1
        for layer in layers:
            if layer.layer in order:
                position = order.index(layer.layer)
            else:
                position += 1
                order.insert(position, layer.layer)
    return order
