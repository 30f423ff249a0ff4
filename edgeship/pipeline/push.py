"""Which bundle files go where on a device, and whether the device has the runtimes they need."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeship.bundle import Bundle, BundleUpdate
from edgeship.devices.base import Device, Staged
from edgeship.devices.engines import check_engines
from edgeship.errors import DeviceError
from edgeship.manifest import Benchmark, LatencyStats, Variant
from edgeship.runtimes.formats import get_format
from edgeship.tasks.base import get_task


@dataclass(frozen=True)
class Pushed:
    """One variant file on a device."""

    variant: str
    location: str
    sent: bool


def bundle_folder(bundle: Bundle) -> str:
    """The bundle's folder under a device workdir."""
    return device_folder(bundle.root)


def device_folder(root: Path) -> str:
    """The folder under a device workdir for the bundle at `root` (which may not exist yet)."""
    return f"bundles/{root.resolve().name}"


def staged_files(bundle: Bundle, variants: list[Variant]) -> list[Staged]:
    """The variants' files (checked against the manifest) with their place under the device workdir."""
    folder = bundle_folder(bundle)
    return [Staged(bundle.verified_file(v), v.sha256, f"{folder}/{v.file}") for v in variants]


def push_variants(bundle: Bundle, device: Device, variants: list[Variant]) -> list[Pushed]:
    """Put the variants on the device (what it already holds unchanged is skipped)."""
    pushed = []
    for variant, item in zip(variants, staged_files(bundle, variants), strict=True):
        location, sent = device.push(item)
        pushed.append(Pushed(variant.id, location, sent))
    return pushed


def record_benchmark(
    change: BundleUpdate, device: Device, variant: Variant, raw: dict[str, Any], batch: int
) -> Benchmark:
    """Keep the agent's raw JSON in bench/<device>/ and its summary in the manifest, as one update."""
    raw_file = change.write_text(f"bench/{device.name}/{variant.id}.json", json.dumps(raw, indent=2) + "\n")
    benchmark = Benchmark(
        variant=variant.id,
        device=device.name,
        runtime=raw["runtime"],
        runtime_version=raw["runtime_version"],
        threads=raw["threads"],
        batch=batch,
        input_shapes=raw["input_shapes"],
        latency_ms=LatencyStats(**raw["latency_ms"]),
        runs=raw["runs"],
        warmup=raw["warmup"],
        emulated=raw["emulated"] or device.emulated,
        raw=raw_file,
    )
    change.manifest.put_benchmark(benchmark)
    return benchmark


def legacy_tflite_runs(variant: Variant, task: str) -> bool:
    """Whether tflite-runtime 2.14 (the last release) can run a variant: not text models from litert-torch
    (GATHER_ND v5), not int4 or dynamic-range files."""
    return get_task(task).modality != "text" and variant.precision not in ("int4-weight", "int8-dynamic")


def check_runnable(device: Device, probe: dict[str, Any], variants: list[Variant], task: str) -> None:
    """Fail, naming the variants, when the device lacks the runtime a variant needs (or, for GPU-only
    formats, the GPU and the runtime the engine was built for)."""
    check_engines(device, probe, [v for v in variants if get_format(v.format).gpu_only])
    variants = [v for v in variants if not get_format(v.format).gpu_only]
    never = [v for v in variants if not device.format_runtimes(v.format)]
    if never:
        formats = sorted({v.format for v in never})
        raise DeviceError(
            f"device '{device.name}' cannot run {', '.join(v.id for v in never)}: it has no runtime for "
            f"{' or '.join(formats)} files",
            hint="; ".join(sorted({device.runtime_hint(f) for f in formats})),
        )
    installed = probe.get("runtimes", {})
    missing = [v for v in variants if not set(device.format_runtimes(v.format)) & set(installed)]
    if missing:
        lacking = sorted({v.format for v in missing})
        needs = sorted({" or ".join(device.format_runtimes(f)) for f in lacking})
        raise DeviceError(
            f"device '{device.name}' cannot run {', '.join(v.id for v in missing)}: "
            f"{'; '.join(needs)} is not installed there (Python {probe.get('python', '?')})",
            hint="; ".join(sorted({device.runtime_hint(f) for f in lacking})),
        )
    tflite = get_format("tflite")
    if tflite.runtime in installed or "tflite-runtime" not in installed:
        return
    refused = [v for v in variants if v.format == tflite.id and not legacy_tflite_runs(v, task)]
    if refused:
        runnable = [v.id for v in variants if v not in refused]
        raise DeviceError(
            f"device '{device.name}' has only tflite-runtime {installed.get('tflite-runtime', '?')}, which "
            f"cannot run {', '.join(v.id for v in refused)} (text models from litert-torch need GATHER_ND v5; "
            "int4 and dynamic-range files need newer kernels)",
            hint=tflite.device_hint
            + (f", or pick --variant {' --variant '.join(runnable)}" if runnable else ""),
        )
