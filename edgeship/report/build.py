"""Assemble the report of a bundle: summary, variant table, plots per device, float layers, tool versions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgeship.manifest import JUMP_DB, SNR_CEILING_DB, Benchmark, Manifest
from edgeship.report.document import Block, Figure, Heading, Paragraph, Table
from edgeship.report.plots import accuracy_vs_latency_png, size_vs_latency_png, snr_by_depth_png
from edgeship.report.points import device_points, latest_benchmarks, pareto_front
from edgeship.tasks.base import get_task
from edgeship.version import __version__

EMULATED = "emulated: compare variants with each other, not with real devices"


@dataclass
class Report:
    """The report's blocks, in order, and its title."""

    title: str
    blocks: list[Block]

    @property
    def figures(self) -> list[Figure]:
        return [block for block in self.blocks if isinstance(block, Figure)]


def build_report(manifest: Manifest) -> Report:
    """Every section of the report for this manifest."""
    title = f"edgeship report: {manifest.source.model}"
    benchmarks = latest_benchmarks(manifest)
    blocks: list[Block] = [Heading(title, level=1), Paragraph(_summary(manifest))]
    blocks += [Heading("Variants"), _variants_table(manifest, benchmarks)]
    blocks += _device_sections(manifest, benchmarks)
    blocks += _kept_float(manifest)
    blocks += _layer_debug(manifest)
    blocks += _tool_versions(manifest)
    return Report(title, blocks)


def _summary(manifest: Manifest) -> str:
    source = manifest.source
    role = f" ({source.role} of {source.teacher})" if source.role == "student" and source.teacher else ""
    evaluated = next((v.evaluated_on for v in manifest.variants if v.evaluated_on), None)
    labels = f" with labels {', '.join(source.labels)}" if source.labels else ""
    pooling = f" ({source.pooling}-pooled, L2-normalised in the graph)" if source.pooling else ""
    accuracy_on = (
        f" {get_task(source.task).metric.capitalize()} is measured on {evaluated.dataset} ({evaluated.split}, {evaluated.samples} samples)."
        if evaluated
        else ""
    )
    return (
        f"{source.architecture}{role} for {source.task}{pooling}{labels}: "
        f"{_count(len(manifest.variants), 'variant')}, {_count(len(manifest.benchmarks), 'benchmark')} on "
        f"{_count(len({b.device for b in manifest.benchmarks}), 'device')}.{accuracy_on} Parity compares each "
        f"artifact with the PyTorch fp32 model on the same inputs."
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _device_label(benchmarks: dict[str, Benchmark], device: str) -> str:
    emulated = any(b.emulated for b in benchmarks.values())
    return f"{device} (emulated)" if emulated else device


def _variants_table(manifest: Manifest, benchmarks: dict[str, dict[str, Benchmark]]) -> Table:
    task = get_task(manifest.source.task)
    headers = ["variant", "format", "precision", "bytes", "parity max|Δ|", "parity agree", task.metric]
    for device, measured in benchmarks.items():
        label = _device_label(measured, device)
        headers += [f"{label} p50 ms", f"{label} p90 ms"]
    rows = []
    for variant in manifest.variants:
        parity = variant.parity
        row = [
            variant.id,
            variant.format,
            variant.precision,
            f"{variant.bytes:,}",
            f"{parity.max_abs_diff:.2e}" if parity else "-",
            f"{parity.argmax_agreement:.3f}" if parity else "-",
            task.format_score(variant.accuracy) if variant.accuracy is not None else "-",
        ]
        for measured in benchmarks.values():
            benchmark = measured.get(variant.id)
            row += (
                [f"{benchmark.latency_ms.p50:.2f}", f"{benchmark.latency_ms.p90:.2f}"]
                if benchmark
                else ["-", "-"]
            )
        rows.append(row)
    return Table(headers, rows, numeric={3, 4, 5, 6, *range(7, len(headers))})


def _device_sections(manifest: Manifest, benchmarks: dict[str, dict[str, Benchmark]]) -> list[Block]:
    if not benchmarks:
        return [
            Heading("Latency"),
            Paragraph(
                "No benchmarks in this bundle, so there are no latency plots: run `edgeship bench BUNDLE`."
            ),
        ]
    blocks: list[Block] = []
    for device, measured in benchmarks.items():
        label = _device_label(measured, device)
        points = device_points(manifest, measured)
        blocks += [Heading(f"Latency on {label}"), _settings_table(list(measured.values()))]
        if label != device:
            blocks.append(Paragraph(f"Timings on {device} are {EMULATED}."))
        slug = re.sub(r"[^a-z0-9._-]+", "-", device.lower())
        scored = [p for p in points if p.variant.accuracy is not None]
        if scored:
            front = ", ".join(p.variant.id for p in pareto_front(scored))
            blocks += [
                Figure(
                    f"{get_task(manifest.source.task).metric.capitalize()} vs p50 latency on {label}; "
                    f"Pareto front: {front}",
                    f"plots/accuracy-vs-latency-{slug}.png",
                    accuracy_vs_latency_png(points, label, get_task(manifest.source.task)),
                ),
            ]
        else:
            blocks.append(
                Paragraph(
                    f"No variant benchmarked on {device} has an accuracy, so there is no accuracy plot: "
                    "run `edgeship eval BUNDLE --data DATA`."
                )
            )
        blocks.append(
            Figure(
                f"Artifact size vs p50 latency on {label}",
                f"plots/size-vs-latency-{slug}.png",
                size_vs_latency_png(points, label),
            )
        )
        missing = [v.id for v in manifest.variants if v.id not in measured]
        if missing:
            blocks.append(Paragraph(f"Not benchmarked on {device}: {', '.join(missing)}."))
    return blocks


def _settings_table(benchmarks: list[Benchmark]) -> Table:
    rows = [
        [
            b.variant,
            f"{b.runtime} {b.runtime_version}",
            str(b.threads),
            str(b.batch),
            " ".join(f"{name}{shape}" for name, shape in b.input_shapes.items()),
            str(b.runs),
            f"{b.latency_ms.p50:.2f}",
            f"{b.latency_ms.p90:.2f}",
            f"{b.latency_ms.p99:.2f}",
            b.measured_at,
        ]
        for b in benchmarks
    ]
    headers = [
        "variant",
        "runtime",
        "threads",
        "batch",
        "input shapes",
        "runs",
        "p50",
        "p90",
        "p99",
        "measured",
    ]
    return Table(headers, rows, numeric={2, 3, 5, 6, 7, 8})


def _kept_float(manifest: Manifest) -> list[Block]:
    blocks: list[Block] = [Heading("Kept in float")]
    kept = [v for v in manifest.variants if v.kept_float]
    if not kept:
        return [*blocks, Paragraph("No quantized variant keeps any layer in float.")]
    for variant in kept:
        blocks.append(
            Paragraph(
                f"{variant.id} keeps {len(variant.kept_float)} layers in float (most accuracy-sensitive "
                f"first): " + ", ".join(f"`{layer}`" for layer in variant.kept_float)
            )
        )
    return blocks


def _layer_debug(manifest: Manifest) -> list[Block]:
    """`edgeship debug` results: a plot per reference and device, and where each variant's error grows."""
    if not manifest.debug:
        return []
    blocks: list[Block] = [
        Heading("Layer by layer"),
        Paragraph(
            "Each module's output in a variant against the same module in the reference (`edgeship debug`). "
            f"SNR at or above {SNR_CEILING_DB:.0f} dB is float rounding; the first jump is the first layer that "
            f"loses {JUMP_DB:.0f} dB or more, the worst are the layers that lose the most."
        ),
    ]
    groups = sorted({(record.against, record.device) for record in manifest.debug})
    for against, device in groups:
        records = [r for r in manifest.debug if (r.against, r.device) == (against, device)]
        slug = re.sub(r"[^a-z0-9]+", "-", f"{against}-{device}".lower()).strip("-")
        blocks.append(
            Figure(
                f"Layer SNR against {against} on {device}",
                f"plots/layers-{slug}.png",
                snr_by_depth_png(records),
            )
        )
    rows = [
        [
            record.variant,
            record.against,
            record.device,
            str(len(record.layers)),
            f"{min(layer.snr_db for layer in record.layers):.1f}",
            record.first_jump or "-",
            ", ".join(record.worst) or "-",
        ]
        for record in manifest.debug
    ]
    headers = ["variant", "against", "device", "layers", "lowest SNR dB", "first jump", "worst"]
    return [*blocks, Table(headers, rows, numeric={3, 4})]


def _tool_versions(manifest: Manifest) -> list[Block]:
    used: dict[tuple[str, str], list[str]] = {("edgeship", manifest.created_with): ["manifest"]}
    for variant in manifest.variants:
        for tool, version in variant.produced_by.tools.items():
            used.setdefault((tool, version), []).append(f"{variant.produced_by.step} {variant.id}")
    for benchmark in manifest.benchmarks:
        runs = used.setdefault((benchmark.runtime, benchmark.runtime_version), [])
        if f"bench on {benchmark.device}" not in runs:
            runs.append(f"bench on {benchmark.device}")
    rows = [[tool, version, ", ".join(where)] for (tool, version), where in sorted(used.items())]
    return [
        Heading("Tool versions"),
        Table(["tool", "version", "used by"], rows),
        Paragraph(f"Report written by edgeship {__version__}."),
    ]
