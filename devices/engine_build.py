"""TensorRT engines built on the device that runs them: the ONNX graph is pushed there, the agent builds it
(tensorrt Python API, or JetPack's trtexec), the engine is fetched back sha256-verified, and parity runs there.

Everything goes to the bundle's staging folder on the device (`bundles/<bundle>/.staging/`, as a rollout
uses); only an engine that passed is renamed to its live place, and the staging folder is emptied whatever
happens. A device that reads files in place (`local-gpu`) builds into this machine's scratch folder.
"""

from __future__ import annotations

import itertools
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from edgeship.bundle import sha256_of
from edgeship.devices.base import Device, Staged
from edgeship.devices.staging import STAGING, remove_staged
from edgeship.errors import DeviceError
from edgeship.manifest import GpuTarget


@dataclass(frozen=True)
class DeviceEngine:
    """An engine the agent built on a device: where it is there, and the agent's report on it."""

    location: str
    sha256: str
    bytes: int
    built_for: GpuTarget
    report: dict[str, Any]


def built_for(device: Device, report: dict[str, Any]) -> GpuTarget:
    """The GPU and TensorRT version the device says the engine was built with (what it will run on)."""
    gpu = report.get("gpu") or {}
    try:
        return GpuTarget.model_validate(
            {
                "gpu": gpu.get("name"),
                "compute_capability": gpu.get("compute_capability"),
                "tensorrt": report.get("tensorrt"),
            }
        )
    except ValidationError as exc:
        raise DeviceError(
            f"device '{device.name}' built the engine but reported no usable GPU target (GPU "
            f"{gpu.get('name')!r}, compute capability {gpu.get('compute_capability')!r}, TensorRT "
            f"{report.get('tensorrt')!r})",
            hint="check nvidia-smi and trtexec --help on the device",
        ) from exc


class EngineBuild:
    """One engine built on `device` for the bundle whose folder there is `folder` (`bundles/<name>`);
    `discard` removes what it staged there."""

    def __init__(self, device: Device, folder: str, scratch: Path) -> None:
        self.device, self.folder, self.scratch = device, folder, scratch
        self.root = f"{folder}/{STAGING}"
        self.staged: list[str] = []
        self.promoted: set[str] = set()  # staged files renamed to their live place

    def put(self, local: Path, relative: str) -> str:
        """Push a file from this machine to `relative` under the staging folder; its path on the device."""
        target = f"{self.root}/{relative}"
        if self.device.remote:
            self.staged.append(target)  # noted first: a half upload is removed too
        return self.device.push(Staged(local, sha256_of(local), target))[0]

    def place(self, relative: str) -> str:
        """Where the agent writes a file of its own (an engine, outputs): staging there, scratch here."""
        if not self.device.remote:
            return str(self.scratch / posixpath.basename(relative))
        target = f"{self.root}/{relative}"
        self.staged.append(target)
        return self.device.location(target)

    def build(self, graph: Path, engine_file: str, **settings: Any) -> DeviceEngine:
        """Push `graph`, build it on the device into the staging copy of `engine_file` (the variant's path
        in the bundle, e.g. models/tensorrt-fp16.engine) with `settings` (precision, profile,
        workspace_mb, timing_cache)."""
        onnx = self.put(graph, f"build/{Path(engine_file).stem}.onnx")
        report = self.device.build_engine(onnx, self.place(engine_file), **settings)
        return DeviceEngine(
            location=str(report["engine"]),
            sha256=str(report["sha256"]),
            bytes=int(report["bytes"]),
            built_for=built_for(self.device, report),
            report=report,
        )

    def fetch(self, engine: DeviceEngine, local: Path) -> None:
        """Copy the engine to `local` (under a temporary name until its sha256 is the one the device reported)."""
        partial = local.with_name(f".{local.name}.fetching")
        self.device.fetch(engine.location, partial)
        got = sha256_of(partial)
        if got != engine.sha256:
            partial.unlink(missing_ok=True)
            raise DeviceError(
                f"the engine fetched from device '{self.device.name}' has sha256 {got[:12]}..., the device "
                f"reported {engine.sha256[:12]}...; nothing was written",
                hint="check the device's storage and the connection, then export again",
            )
        partial.replace(local)

    def session(self, engine: DeviceEngine, fixed_batch: int | None) -> DeviceSession:
        """A Session that runs the built engine on the device (for parity)."""
        return DeviceSession(self, engine, fixed_batch)

    def promote(self, engine: DeviceEngine, engine_file: str) -> None:
        """Rename the checked engine from staging to its live place in the bundle's folder (atomic there)."""
        if self.device.remote:
            live = self.device.location(f"{self.folder}/{engine_file}")
            self.device.promote(engine.location, live, engine.sha256)
            self.promoted.add(f"{self.root}/{engine_file}")

    def discard(self) -> None:
        """Remove what is still staged on the device, and the staging folders left empty."""
        if self.staged:
            remove_staged(self.device, self.root, self.staged, done=self.promoted)
            self.staged.clear()


class DeviceSession:
    """The Session interface over an engine on a device: each run pushes its inputs as an .npz, the agent
    runs the engine once there (--save-outputs) and the outputs are fetched back."""

    runtime = "tensorrt"

    def __init__(self, build: EngineBuild, engine: DeviceEngine, fixed_batch: int | None) -> None:
        self.build, self.engine, self.fixed_batch = build, engine, fixed_batch
        self.runtime_version = engine.built_for.tensorrt
        self._runs = itertools.count()

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Outputs of the engine on the device for `feeds`."""
        index = next(self._runs)
        inputs = self.build.scratch / f"parity-{index}.npz"
        np.savez(inputs, **feeds)  # type: ignore[arg-type]
        on_device = self.build.put(inputs, f"build/{inputs.name}")
        saved = self.build.place(f"build/parity-{index}-outputs.npz")
        return self.build.device.outputs(
            self.engine.location,
            on_device,
            saved,
            self.build.scratch / f"parity-{index}-outputs.npz",
            artifact_format="tensorrt",
        )
