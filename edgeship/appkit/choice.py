"""Which variant a kit ships: the named one, or the fastest (then smallest) within the accuracy budget on
the devices the platform runs on."""

from __future__ import annotations

from dataclasses import dataclass

from edgeship.appkit.artifacts import ArtifactKind
from edgeship.appkit.heads import CLASSIFICATION, KitHead
from edgeship.appkit.platforms import Platform
from edgeship.bundle import Bundle
from edgeship.errors import BundleError, EdgeshipError
from edgeship.manifest import Benchmark, Manifest, Variant
from edgeship.report.points import latest_benchmarks
from edgeship.tasks.base import Task, get_task


@dataclass(frozen=True)
class Choice:
    """The variant a kit ships and why, in one sentence with the numbers."""

    variant: Variant
    reason: str


def choose_variant(
    bundle: Bundle,
    kind: ArtifactKind,
    platform: Platform,
    variant_id: str | None,
    max_accuracy_drop: float,
    head: KitHead = CLASSIFICATION,
) -> Choice:
    """The named variant, or among those of a fitting format within `max_accuracy_drop` points of the most
    accurate: the fastest on the platform's devices, else on any measured device, else the smallest.
    A point is 1/100 of the task's metric: 1% of accuracy, 0.01 of a correlation (as `quantize` counts)."""
    if variant_id:
        [variant] = bundle.select_variants([variant_id])
        if not kind.carries(variant):
            other = next(name for name in platform.artifacts if name != kind.name)
            needs = f"a variant of format {' or '.join(kind.source_formats)}"
            if variant.format in kind.source_formats:
                needs = f"a variant without {', '.join(kind.cannot_carry)} (its format has no int4 tensors)"
            raise BundleError(
                f"variant '{variant.id}' is {variant.format}; the {kind.name} kit needs {needs}",
                hint=f"choose another --variant or --artifact {other}",
            )
        return Choice(variant, f"{variant.id} was asked for with --variant.")
    fitting = [v for v in bundle.manifest.variants if kind.carries(v)]
    if not fitting:
        raise _nothing_fits(bundle, kind, platform)
    task = get_task(bundle.manifest.source.task)
    qualified, budget = _within_budget(fitting, max_accuracy_drop, task, head)
    device, latency = _platform_latency(bundle.manifest, platform, qualified)
    measured = [v for v in qualified if v.id in latency]
    if measured:
        chosen = min(measured, key=lambda v: (latency[v.id].latency_ms.p50, v.bytes))
        emulated = " (emulated: relative only)" if latency[chosen.id].emulated else ""
        speed = f"the fastest on {device}{emulated} (p50 {latency[chosen.id].latency_ms.p50:.1f} ms"
        others = [f"{v.id} {latency[v.id].latency_ms.p50:.1f} ms" for v in measured if v is not chosen]
        speed += f"; {', '.join(others)})" if others else ")"
    else:
        chosen = min(qualified, key=lambda v: v.bytes)
        speed = "the smallest (no benchmark of these variants yet"
        speed += f"; `edgeship bench --device {'browser' if platform.device_arch == 'browser' else 'NAME'}`)"
    accuracy = f"{task.metric} {_shown(task, chosen.accuracy)}, " if chosen.accuracy is not None else ""
    return Choice(
        chosen, f"{chosen.id} ({accuracy}{chosen.bytes / 1e6:.1f} MB) is {speed} among the variants {budget}."
    )


def _within_budget(
    fitting: list[Variant], max_accuracy_drop: float, task: Task, head: KitHead
) -> tuple[list[Variant], str]:
    """Variants within the accuracy budget of the best one, and the budget in words."""
    scored = [v for v in fitting if v.accuracy is not None]
    if scored:
        best = max(v.accuracy for v in scored if v.accuracy is not None)
        floor = best - max_accuracy_drop / 100 - 1e-9
        within = [v for v in scored if v.accuracy is not None and v.accuracy >= floor]
        points = "" if task.metric_in_percent else f" ({max_accuracy_drop / 100:g} {task.metric})"
        return within, (
            f"within {max_accuracy_drop:g} point(s){points} of the best {task.metric} ({_shown(task, best)})"
        )
    within = [v for v in fitting if v.source_variant is None or _agrees(v, head)]
    return within, f"with no {task.metric} measured: fp32 or {head.agreement_words}"


def _agrees(variant: Variant, head: KitHead) -> bool:
    """Whether a quantized variant's parity meets the head's agreement (and cosine) floor."""
    parity = variant.parity
    if parity is None or parity.argmax_agreement < head.min_agreement:
        return False
    return head.min_cosine is None or (parity.cosine is not None and parity.cosine >= head.min_cosine)


def _shown(task: Task, value: float) -> str:
    """A metric value in the choice's sentence: 87.5% (accuracy) or 0.504 (a correlation)."""
    return f"{value:.1%}" if task.metric_in_percent else f"{value:.3f}"


def _platform_latency(
    manifest: Manifest, platform: Platform, variants: list[Variant]
) -> tuple[str, dict[str, Benchmark]]:
    """The device whose benchmarks rank the variants (one that compares at least two of them, the platform's
    kind first, then the one measuring most) and its latest benchmark per variant id; ("", {}) when none."""
    ids = {v.id for v in variants}
    by_device = {
        device: {vid: b for vid, b in rows.items() if vid in ids}
        for device, rows in latest_benchmarks(manifest).items()
    }
    ranked = sorted(
        (device for device, rows in by_device.items() if rows),
        key=lambda d: (len(by_device[d]) < 2, _device_arch(d) != platform.device_arch, -len(by_device[d])),
    )
    return (ranked[0], by_device[ranked[0]]) if ranked else ("", {})


def _device_arch(name: str) -> str | None:
    """`browser` for the browser device, else the registered device's architecture (None if unknown)."""
    if name == "browser":
        return "browser"
    from edgeship.devices.registry import get_device

    try:
        return get_device(name).profile.arch
    except EdgeshipError:
        return None


def _nothing_fits(bundle: Bundle, kind: ArtifactKind, platform: Platform) -> BundleError:
    export_format = "tflite" if kind.name == "tflite" else "onnx"
    others = [name for name in platform.artifacts if name != kind.name]
    return BundleError(
        f"bundle {bundle.root} has no {' or '.join(kind.source_formats).upper()} variant for the "
        f"{platform.name} {kind.name} kit",
        hint=f"run `edgeship export {bundle.manifest.source.model} --out {bundle.root} --format "
        f"{export_format}`" + (f", or pass --artifact {others[0]}" if others else ""),
    )
