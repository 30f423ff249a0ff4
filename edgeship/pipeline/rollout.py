"""Staged (canary) rollout: new files are checked on the first devices before any live file changes.

Each device gets the variants' files in a staging folder beside the live one (`bundles/<bundle>/.staging/`
under its workdir, so the same filesystem), sha256-verified. On the canaries the agent then runs the
staged files there: a parity run whose outputs must match this machine's outputs for the same inputs, and
a benchmark. Only when every canary passes are the staged files renamed over the live ones (one atomic
rename each), the canary benchmarks recorded, and the other devices staged, verified, probed and promoted
one by one (no benchmark there). The first failure stops everything: that device's staged files are
removed, its live files stay as they were, and no later device is touched.
"""

from __future__ import annotations

import contextlib
import posixpath
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edgeship.bundle import Bundle, sha256_of
from edgeship.console import console
from edgeship.devices.base import Device, Staged
from edgeship.devices.staging import STAGING, remove_staged
from edgeship.errors import BundleError, DeviceError, EdgeshipError
from edgeship.export.parity import load_reference
from edgeship.manifest import Variant
from edgeship.pipeline.push import bundle_folder, check_runnable, record_benchmark, staged_files
from edgeship.runtimes.base import open_session

PARITY_ROWS = 4  # rows of the bundle's parity inputs a dynamic-batch variant runs on the device
DEFAULT_TOLERANCE = 1e-3  # max |device - host| when the variant records no parity tolerance

Role = Literal["canary", "rest"]
Status = Literal["promoted", "failed", "withdrawn", "not reached"]


@dataclass
class DeviceOutcome:
    """What the rollout did on one device; latency and parity are per variant (canaries only)."""

    device: str
    role: Role
    in_place: bool = False  # the device reads the bundle's own files (local, qemu): nothing to stage
    status: Status = "not reached"
    reason: str = ""
    hint: str = ""
    latency_p50_ms: dict[str, float] = field(default_factory=dict)
    parity_max_diff: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class VariantCheck:
    """One variant's file and what a device must reproduce: this machine's outputs for fixed inputs."""

    variant: Variant
    model: Staged  # the file at its live place under the device workdir
    parity_inputs: Staged
    bench_inputs: Staged
    bench_batch: int
    reference: list[np.ndarray]
    tolerance: float


@dataclass
class Placement:
    """The files (paths under the device workdir) a rollout staged on one device, and which it promoted."""

    models: dict[str, str] = field(default_factory=dict)  # variant id -> where the staged file is
    staged: list[str] = field(default_factory=list)
    promoted: set[str] = field(default_factory=set)


def staging_path(relative: str, bundle: Bundle) -> str:
    """Where a file bound for `relative` (under the bundle's device folder) waits until promotion."""
    folder = bundle_folder(bundle)
    return f"{folder}/{STAGING}/{posixpath.relpath(relative, folder)}"


def compare_outputs(got: list[np.ndarray], expected: list[np.ndarray]) -> float:
    """Largest |got - expected| over every output (inf when one is not finite); ValueError when the
    outputs differ in number or shape."""
    if len(got) != len(expected):
        raise ValueError(f"{len(got)} outputs, this machine has {len(expected)}")
    worst = 0.0
    for index, (device, host) in enumerate(zip(got, expected, strict=True)):
        if device.shape != host.shape:
            raise ValueError(f"output {index} has shape {list(device.shape)}, not {list(host.shape)}")
        if device.size:
            diff = float(np.max(np.abs(device.astype(np.float64) - host.astype(np.float64))))
            if not np.isfinite(diff):  # NaN or inf on either side: never within a tolerance
                return float("inf")
            worst = max(worst, diff)
    return worst


def prepare_checks(
    bundle: Bundle, variants: list[Variant], tolerance: float | None, scratch: Path
) -> list[VariantCheck]:
    """Per variant: rows of the bundle's parity inputs, and this machine's outputs for them (the reference)."""
    if bundle.manifest.parity_reference is None:
        raise BundleError(
            f"bundle {bundle.root} has no parity reference to check devices against",
            hint="re-export it into a new directory",
        )
    inputs, _ = load_reference(bundle.path(bundle.manifest.parity_reference))
    checks = []
    for variant, model in zip(variants, staged_files(bundle, variants), strict=True):
        if variant.format == "tensorrt":
            raise DeviceError(
                f"a staged rollout cannot check {variant.id}: a TensorRT engine runs only on the GPU it was "
                "built for, so this machine has no outputs to compare with",
                hint="push engines with --device, one device at a time",
            )
        specs = bundle.manifest.inputs_of(variant)
        missing = [spec.name for spec in specs if spec.name not in inputs]
        if missing:
            raise BundleError(
                f"the parity inputs of {bundle.root} lack {', '.join(missing)}, which {variant.id} takes",
                hint="re-export the bundle",
            )
        fixed_batch = specs[0].shape[0] if isinstance(specs[0].shape[0], int) else None
        feeds = {spec.name: inputs[spec.name][: fixed_batch or PARITY_ROWS] for spec in specs}
        reference = open_session(model.local, variant.format, threads=1).run(feeds)
        bench_batch = fixed_batch or 1
        files = {"parity": feeds, "bench": {name: rows[:bench_batch] for name, rows in feeds.items()}}
        staged = {}
        for kind, arrays in files.items():
            local = scratch / f"{variant.id}-{kind}.npz"
            np.savez(local, **arrays)  # type: ignore[arg-type]
            relative = f"{bundle_folder(bundle)}/{STAGING}/inputs/{variant.id}-{kind}.npz"
            staged[kind] = Staged(local, sha256_of(local), relative)
        variant_tolerance = variant.parity.tolerance if variant.parity else DEFAULT_TOLERANCE
        checks.append(
            VariantCheck(
                variant,
                model,
                staged["parity"],
                staged["bench"],
                bench_batch,
                reference,
                variant_tolerance if tolerance is None else tolerance,
            )
        )
    return checks


class Rollout:
    """One rollout of a bundle's variants over devices in order; `run` does it."""

    def __init__(
        self,
        devices: list[Device],
        bundle: Bundle,
        checks: list[VariantCheck],
        canary: int,
        scratch: Path,
        runs: int | None = None,
        warmup: int | None = None,
    ) -> None:
        self.devices, self.bundle, self.checks, self.canary = devices, bundle, checks, canary
        self.scratch, self.runs, self.warmup = scratch, runs, warmup
        self.outcomes = [
            DeviceOutcome(d.name, "canary" if i < canary else "rest", in_place=not d.remote)
            for i, d in enumerate(devices)
        ]
        self.placements = [Placement() for _ in devices]

    def run(self) -> list[DeviceOutcome]:
        """Canaries staged and checked, then promoted, then the rest one by one; stops at a failure."""
        try:
            return self._run()
        except BaseException:  # an interrupt or a bug: leave no staged file behind on any device
            for index in range(len(self.devices)):
                with contextlib.suppress(Exception):
                    self._discard(index)
            raise

    def _run(self) -> list[DeviceOutcome]:
        raws: list[dict[str, dict[str, Any]]] = []
        for index in range(self.canary):
            if not self._attempt(index, partial(self._stage_and_check, index, raws)):
                self._withdraw(range(index), f"canary '{self.devices[index].name}' failed")
                return self.outcomes
        for index in range(self.canary):
            if not self._attempt(index, partial(self._promote, index)):
                self._withdraw(range(index + 1, self.canary), f"canary '{self.devices[index].name}' failed")
                break
        promoted = [i for i in range(self.canary) if self.outcomes[i].status == "promoted"]
        if promoted:
            with self.bundle.update() as change:
                for index in promoted:
                    for check in self.checks:
                        raw = raws[index][check.variant.id]
                        record_benchmark(change, self.devices[index], check.variant, raw, check.bench_batch)
        if len(promoted) < self.canary:
            return self.outcomes
        for index in range(self.canary, len(self.devices)):
            if not self._attempt(index, partial(self._stage_and_promote, index)):
                break
        return self.outcomes

    def _attempt(self, index: int, action: Callable[[], object]) -> bool:
        """Run one device's step; on an edgeship error record it there and remove what was staged."""
        outcome = self.outcomes[index]
        try:
            action()
        except EdgeshipError as exc:
            outcome.status, outcome.reason, outcome.hint = "failed", exc.message, exc.hint
            try:
                self._discard(index)
            except EdgeshipError as cleanup:
                outcome.reason += f" (and its staged files could not be removed: {cleanup.message})"
            return False
        return True

    def _stage_and_check(self, index: int, raws_by_canary: list[dict[str, dict[str, Any]]]) -> None:
        """Stage on a canary, then a parity run and a benchmark of the staged files; appends the raw agent
        JSON by variant to `raws_by_canary`."""
        device, outcome = self.devices[index], self.outcomes[index]
        probe = self._stage(index)
        threads = int(probe["cpu"]["cores"] or 1)
        runs = self.runs if self.runs is not None else (5 if device.emulated else 50)
        warmup = self.warmup if self.warmup is not None else (1 if device.emulated else 5)
        raws = {}
        for check in self.checks:
            variant = check.variant.id
            model = self.placements[index].models[variant]
            parity_inputs = self._put(index, check.parity_inputs)
            local_outputs = self.scratch / f"{index}-{variant}-outputs.npz"
            outputs = str(local_outputs)
            if device.remote:
                relative = posixpath.join(posixpath.dirname(check.parity_inputs.relative), local_outputs.name)
                self.placements[index].staged.append(relative)
                outputs = device.location(relative)
            with console.status(f"Checking parity of {variant} on {device.name}"):
                got = device.outputs(
                    model, parity_inputs, outputs, local_outputs, artifact_format=check.variant.format
                )
            try:
                diff = compare_outputs(got, check.reference)
            except ValueError as exc:
                raise DeviceError(
                    f"{variant} gives other outputs there than on this machine: {exc}",
                    hint="check the device's runtime version",
                ) from exc
            outcome.parity_max_diff[variant] = diff
            if not diff <= check.tolerance:
                raise DeviceError(
                    f"parity of {variant}: max |Δ| {diff:.3g} from this machine's outputs exceeds "
                    f"the tolerance {check.tolerance:g}",
                    hint="check the device's runtime version, or allow more with --max-parity-diff",
                )
            bench_inputs = self._put(index, check.bench_inputs)
            with console.status(f"Benchmarking {variant} on {device.name} ({runs} runs, {threads} threads)"):
                raw = device.run_agent(
                    model,
                    [],
                    artifact_format=check.variant.format,
                    threads=threads,
                    runs=runs,
                    warmup=warmup,
                    input_file=bench_inputs,
                )
            outcome.latency_p50_ms[variant] = float(raw["latency_ms"]["p50"])
            raws[variant] = raw
        raws_by_canary.append(raws)

    def _stage_and_promote(self, index: int) -> None:
        """A device after the canaries: stage, verify and probe, then promote."""
        self._stage(index)
        self._promote(index)

    def _stage(self, index: int) -> dict[str, Any]:
        """Probe the device for the runtimes, then upload the variants' files to its staging folder
        (sha256 verified); returns the probe."""
        device = self.devices[index]
        with console.status(f"Probing {device.name} ({device.address})"):
            probe = device.probe()
        check_runnable(device, probe, [c.variant for c in self.checks], self.bundle.manifest.source.task)
        with console.status(f"Staging {len(self.checks)} variant(s) on {device.name}"):
            for check in self.checks:
                staged = Staged(
                    check.model.local, check.model.sha256, staging_path(check.model.relative, self.bundle)
                )
                self.placements[index].models[check.variant.id] = self._put(index, staged)
        return probe

    def _put(self, index: int, item: Staged) -> str:
        """Push one file (noted for removal first, so a half upload is removed too); its path there."""
        device = self.devices[index]
        if device.remote:
            self.placements[index].staged.append(item.relative)
        return device.push(item)[0]

    def _promote(self, index: int) -> None:
        """Rename each staged file over its live one (atomic on the device), then remove the rest."""
        device, placement = self.devices[index], self.placements[index]
        if device.remote:
            for check in self.checks:
                live = device.location(check.model.relative)
                device.promote(placement.models[check.variant.id], live, check.model.sha256)
                placement.promoted.add(staging_path(check.model.relative, self.bundle))
        self._discard(index)
        self.outcomes[index].status = "promoted"

    def _discard(self, index: int) -> None:
        """Remove what is still staged on a device, and the staging folders left empty."""
        device, placement = self.devices[index], self.placements[index]
        if not placement.staged:
            return
        root = f"{bundle_folder(self.bundle)}/{STAGING}"
        remove_staged(device, root, placement.staged, done=placement.promoted)
        placement.staged.clear()

    def _withdraw(self, indexes: range, why: str) -> None:
        """Canaries that passed but will not be promoted: remove their staged files."""
        for index in indexes:
            outcome = self.outcomes[index]
            outcome.status, outcome.reason = "withdrawn", why
            try:
                self._discard(index)
            except EdgeshipError as cleanup:
                outcome.reason += f" (staged files could not be removed: {cleanup.message})"


def rollout(
    devices: list[Device],
    bundle: Bundle,
    variants: list[Variant],
    canary: int,
    tolerance: float | None = None,
    *,
    runs: int | None = None,
    warmup: int | None = None,
) -> list[DeviceOutcome]:
    """Stage, check and promote `variants` on `devices` in order, the first `canary` of them benchmarked and
    parity-checked before any live file changes; stops at the first failure. The canaries' benchmarks go
    into the bundle's manifest as `edgeship bench` records them. `tolerance`: max |device - host| per
    output (default: each variant's parity tolerance, else 1e-3)."""
    if not 1 <= canary <= len(devices):
        raise DeviceError(
            f"--canary {canary} with {len(devices)} device(s)",
            hint=f"pick a canary count from 1 to {len(devices)}",
        )
    names = [d.name for d in devices]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DeviceError(f"device {', '.join(repeated)} is listed twice", hint="name each device once")
    if tolerance is not None and not tolerance >= 0:
        raise DeviceError(f"--max-parity-diff {tolerance} is negative", hint="pass 0 or more")
    with tempfile.TemporaryDirectory(prefix="edgeship-rollout-") as folder:
        scratch = Path(folder)
        with console.status("Computing this machine's outputs for the parity check"):
            checks = prepare_checks(bundle, variants, tolerance, scratch)
        return Rollout(devices, bundle, checks, canary, scratch, runs, warmup).run()
