"""The device interface: stage artifacts, probe the machine and run the standalone agent there."""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from edgeship.bundle import sha256_of
from edgeship.devices.profiles import DeviceProfile
from edgeship.errors import DeviceError
from edgeship.runtimes.formats import get_format

MISSING_RUNTIME_EXIT = 3  # the agent's exit status when the artifact's runtime does not import
TIMEOUT_EXIT = 124  # coreutils `timeout`


def agent_path() -> Path:
    """Path of the standalone agent file (the one copied to remote devices)."""
    import edgeship.runtimes

    return Path(edgeship.runtimes.__file__).resolve().parent / "agent.py"


@dataclass(frozen=True)
class Completed:
    """A finished command: exit status and captured output."""

    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Staged:
    """One file to place on a device: the local file, its sha256 and its path under the device workdir."""

    local: Path
    sha256: str
    relative: str


class Device(ABC):
    """A place the agent runs: the host, an emulator or a board over SSH."""

    remote = False  # whether files must be sent to it (the host and QEMU read them in place)

    def __init__(self, name: str, profile: DeviceProfile, timeout: float = 1800) -> None:
        self.name = name
        self.profile = profile
        self.timeout = timeout

    @classmethod
    def from_entry(cls, name: str, entry: Any) -> Device:
        """A device configured in the user's devices file (transports that need an address)."""
        raise DeviceError(f"device '{name}': transport {cls.__name__} takes no configuration")

    @property
    def emulated(self) -> bool:
        """Whether timings come from an emulator (never to be read as hardware latency)."""
        return self.profile.emulated

    @property
    def address(self) -> str:
        """How the device is reached, for listings."""
        return "this machine"

    def push(self, item: Staged) -> tuple[str, bool]:
        """Make one file available on the device; returns (its path there, whether it was sent)."""
        return str(item.local), False

    def stage(self, files: list[Staged]) -> dict[str, str]:
        """Make `files` available on the device; returns each relative path's location there."""
        return {item.relative: self.push(item)[0] for item in files}

    def format_runtimes(self, artifact_format: str) -> tuple[str, ...]:
        """The runtimes, as this device's probe names them, that run `artifact_format` here (none: never)."""
        return get_format(artifact_format).runtimes

    def runtime_hint(self, artifact_format: str) -> str:
        """What to do when this device lacks a runtime for `artifact_format`."""
        return get_format(artifact_format).device_hint

    def agent_location(self) -> str:
        """Where the agent file is on the device."""
        return str(agent_path())

    @abstractmethod
    def execute_agent(self, arguments: list[str], timeout: float) -> Completed:
        """Run `python agent.py ARGUMENTS` on the device."""

    def probe(self) -> dict[str, Any]:
        """CPU, cores, Python, importable runtimes and free disk, as the agent reports them."""
        return self._agent_json(["probe", "--workdir", self.workdir_location()], "probe", self.timeout)

    def workdir_location(self) -> str:
        """The folder on the device that holds pushed files."""
        return "."

    def location(self, relative: str) -> str:
        """Where a file pushed to `relative` (under the device workdir) is on the device."""
        return posixpath.join(self.workdir_location(), relative)

    def promote(self, staged: str, live: str, sha256: str) -> None:
        """Replace `live` with `staged` in one rename (a reader sees the old file or the new one, never
        half of one), then check the file now at `live`."""
        Path(live).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, live)
        if sha256_of(Path(live)) != sha256:
            raise DeviceError(
                f"{live} on device '{self.name}' changed while it was promoted", hint="push again"
            )

    def remove(self, files: list[str], folders: list[str]) -> None:
        """Delete `files` (absent ones are fine), then each of `folders` that is left empty."""
        for file in files:
            Path(file).unlink(missing_ok=True)
        for folder in folders:
            with contextlib.suppress(OSError):
                Path(folder).rmdir()

    def fetch(self, location: str, local: Path) -> None:
        """Copy a file the agent wrote on the device to `local` on this machine."""
        if Path(location).resolve() != local.resolve():
            shutil.copyfile(location, local)

    def run_agent(
        self,
        model: str,
        inputs: list[dict[str, Any]],
        *,
        artifact_format: str,
        threads: int,
        runs: int,
        warmup: int,
        timeout: float | None = None,
        input_file: str | None = None,
        save_outputs: str | None = None,
    ) -> dict[str, Any]:
        """Benchmark `model` (a path on the device, an artifact of `artifact_format`) with the agent and return
        its JSON result.

        `input_file` (an .npz on the device) replaces the random `inputs`; `save_outputs` is where on the
        device the agent writes the first run's outputs (.npz).
        """
        feeds = ["--input-file", input_file] if input_file else ["--inputs", json.dumps(inputs)]
        arguments = ["bench", "--format", artifact_format, "--model", model, *feeds]
        arguments += ["--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup)]
        if save_outputs:
            arguments += ["--save-outputs", save_outputs]
        if self.emulated:
            arguments.append("--emulated")
        return self._agent_json(
            arguments,
            f"benchmark of {Path(model).name}",
            timeout or self.timeout,
            missing_hint=get_format(artifact_format).device_hint,
        )

    def outputs(
        self, model: str, input_file: str, save_to: str, local: Path, *, artifact_format: str
    ) -> list[np.ndarray]:
        """Run `model` (of `artifact_format`) once on the .npz `input_file` (both on the device), the agent
        saving the outputs at `save_to` there, and fetch them into `local`; the outputs in the model's order."""
        self.run_agent(
            model,
            [],
            artifact_format=artifact_format,
            threads=1,
            runs=1,
            warmup=0,
            input_file=input_file,
            save_outputs=save_to,
        )
        self.fetch(save_to, local)
        with np.load(local) as saved:
            return [saved[f"arr_{i}"] for i in range(len(saved.files))]

    def tensors(
        self,
        model: str,
        input_file: str,
        save_to: str,
        local: Path,
        *,
        artifact_format: str,
        names_file: str | None = None,
    ) -> Path:
        """Run `model` on each row of the .npz `input_file` (both on the device), the agent saving every
        intermediate tensor (or those `names_file`, a JSON list there, names) at `save_to` there, and fetch
        that .npz into `local`."""
        arguments = ["tensors", "--format", artifact_format, "--model", model, "--input-file", input_file]
        arguments += ["--out", save_to] + (["--names-file", names_file] if names_file else [])
        self._agent_json(
            arguments,
            f"tensors of {Path(model).name}",
            self.timeout,
            missing_hint=get_format(artifact_format).device_hint,
        )
        self.fetch(save_to, local)
        return local

    def build_engine(
        self,
        onnx: str,
        engine: str,
        *,
        precision: str,
        profile: dict[str, dict[str, list[int]]],
        workspace_mb: int,
        timing_cache: str | None = None,
    ) -> dict[str, Any]:
        """Build the ONNX graph at `onnx` into a TensorRT engine at `engine` (paths on the device) with the
        agent there; returns its report: engine size and sha256, TensorRT version, GPU."""
        arguments = ["build-engine", onnx, "--engine-out", engine, "--precision", precision]
        arguments += ["--profile", json.dumps(profile), "--workspace-mb", str(workspace_mb)]
        if timing_cache:
            arguments += ["--timing-cache", timing_cache]
        return self._agent_json(
            arguments,
            f"building {Path(engine).name}",
            self.timeout,
            failure_hint=f"that line is TensorRT's: raise --workspace-mb (used {workspace_mb}), try another "
            "--precision, or rerun with --debug",
            missing_hint=get_format("tensorrt").device_hint,
        )

    def _agent_json(
        self,
        arguments: list[str],
        what: str,
        timeout: float,
        failure_hint: str = "run with --debug",
        missing_hint: str = "install the runtime on the device",
    ) -> dict[str, Any]:
        completed = self.execute_agent(arguments, timeout)
        if completed.returncode == TIMEOUT_EXIT:
            raise DeviceError(
                f"{what} on device '{self.name}' timed out after {timeout:g} s",
                hint="use fewer --runs, or raise the device's timeout (edgeship devices add ... --timeout)",
            )
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        if "No module named 'numpy'" in completed.stderr:
            raise DeviceError(
                f"{what} on device '{self.name}': numpy is not installed there",
                hint="install numpy and onnxruntime / ai-edge-litert on the device",
            )
        if completed.returncode == MISSING_RUNTIME_EXIT:
            raise DeviceError(
                f"{what} on device '{self.name}': {last.removeprefix('agent: ')}",
                hint=missing_hint,
            )
        if completed.returncode != 0:
            raise DeviceError(f"{what} on device '{self.name}' failed: {last}", hint=failure_hint)
        try:
            return dict(json.loads(completed.stdout))
        except json.JSONDecodeError as exc:
            raise DeviceError(
                f"{what} on device '{self.name}' printed no JSON result", hint="run with --debug"
            ) from exc


DeviceT = TypeVar("DeviceT", bound=type[Device])
TRANSPORTS: dict[str, type[Device]] = {}


def register_transport(kind: str) -> Callable[[DeviceT], DeviceT]:
    """Decorator: a Device class reached through transport `kind` (local, qemu, ssh)."""

    def decorator(cls: DeviceT) -> DeviceT:
        TRANSPORTS[kind] = cls
        return cls

    return decorator
