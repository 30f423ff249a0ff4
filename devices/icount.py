"""The deterministic emulated Cortex-A72: the agent runs once per boot of a full-system qemu-system-aarch64
guest under `-icount shift=0`, whose clock advances one nanosecond per executed instruction.

Its timings are identical run after run: a regression metric for A72 kernels. They are not Cortex-A72
latency (no caches, no pipeline, every instruction costs the same), and every result is marked emulated and
labelled as instruction-count time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from edgeship.devices.base import Completed, Device, agent_path, register_transport
from edgeship.devices.icount_image import RUNTIME_PACKAGES, ensure_image
from edgeship.errors import DeviceError
from edgeship.runtimes.formats import get_format

QEMU = "qemu-system-aarch64"
GUEST = "/edgeship"  # the agent's folder in the guest; /init reads job.json there and returns out/*
INPUT_OPTIONS = ("--model", "--input-file")
OUTPUT_OPTIONS = ("--save-outputs",)
TIMING = (
    "instruction count (qemu-system-aarch64 -icount shift=0: 1 ms = 10^6 emulated instructions); "
    "deterministic, for comparing variants and kernels, not Cortex-A72 latency"
)
# quiet console; no address randomisation; a fixed hash seed for /init: every boot runs the same instructions
KERNEL_ARGUMENTS = (
    "console=ttyAMA0 rdinit=/init quiet loglevel=0 panic=-1 nokaslr norandmaps PYTHONHASHSEED=0"
)


@dataclass
class GuestJob:
    """One boot's work: the agent's arguments with guest paths, the host files to pack, the outputs to fetch."""

    arguments: list[str] = field(default_factory=list)
    inputs: dict[str, Path] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def from_arguments(cls, arguments: list[str]) -> GuestJob:
        """Map the file-valued agent options (model, inputs, saved outputs) to paths inside the guest."""
        job = cls()
        for position, value in enumerate(arguments):
            option = arguments[position - 1] if position else ""
            if option in INPUT_OPTIONS and not Path(value).is_file():
                raise DeviceError(f"{value} is not a file", hint="pass a file that exists on this machine")
            if option in INPUT_OPTIONS:
                guest = f"{GUEST}/in/{len(job.inputs)}/{Path(value).name}"
                job.inputs[guest] = Path(value)
                value = guest
            elif option in OUTPUT_OPTIONS:
                job.outputs[Path(value).name] = Path(value)
                value = f"{GUEST}/out/{Path(value).name}"
            job.arguments.append(value)
        return job

    @property
    def runtimes(self) -> set[str]:
        """The runtimes to pack: the one of the benchmarked format (`--format`), or all of them for a probe."""
        formats = [value for option, value in pairwise(self.arguments) if option == "--format"]
        return {get_format(name).runtime for name in formats} or set(RUNTIME_PACKAGES)

    @property
    def marker(self) -> str:
        """Frames the result on the console; derived from the job so the same job boots the same bytes."""
        return "EDGESHIP-RESULT-" + hashlib.sha256(json.dumps(self.arguments).encode()).hexdigest()[:24]

    def completed(self, console: str) -> Completed:
        """The agent's exit status and output from the guest's console; saved outputs are written back."""
        begin, end = f"{self.marker}-BEGIN", f"{self.marker}-END"
        if begin not in console or end not in console:
            tail = " / ".join(console.strip().splitlines()[-3:]) or "nothing"
            return Completed(1, "", f"the guest printed no result; its console ended with: {tail}")
        result = json.loads(console.split(begin, 1)[1].split(end, 1)[0])
        for name, encoded in result["outputs"].items():
            if name in self.outputs:
                self.outputs[name].write_bytes(base64.b64decode(encoded))
        return Completed(int(result["returncode"]), result["stdout"], result["stderr"])


def qemu_command(cpu: str, kernel: Path, initramfs: Path) -> list[str]:
    """One core under -icount shift=0, with nothing from the host that could vary: RTC, DTB seeds, timing."""
    memory_mb = 1024 + 3 * (initramfs.stat().st_size >> 20)  # the archive, its unpacked copy, the run
    command = [QEMU, "-M", "virt,dtb-randomness=off", "-cpu", cpu, "-smp", "1", "-m", f"{memory_mb}M"]
    command += ["-icount", "shift=0,sleep=off,align=off", "-rtc", "base=2024-01-01T00:00:00,clock=vm"]
    command += ["-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot"]
    return command + ["-kernel", str(kernel), "-initrd", str(initramfs), "-append", KERNEL_ARGUMENTS]


@register_transport("qemu-icount")
class IcountDevice(Device):
    """Boots a Cortex-A72 guest (Debian's arm64 kernel, the arm64 userland as initramfs) for each agent run."""

    cpu = "cortex-a72"

    @property
    def address(self) -> str:
        """How the device is reached, for listings."""
        return f"{QEMU} -M virt -cpu {self.cpu} -icount shift=0 (this machine)"

    def run_agent(self, model: str, inputs: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
        """Benchmark `model` in the guest; the result says its milliseconds count instructions."""
        result = super().run_agent(model, inputs, **options)
        return {**result, "emulated": True, "timing": TIMING}

    def execute_agent(self, arguments: list[str], timeout: float) -> Completed:
        """Boot the guest with the agent, `arguments` and their files; return what the agent printed."""
        if shutil.which(QEMU) is None:
            raise DeviceError(
                f"device '{self.name}' needs {QEMU}, which is not installed",
                hint="run scripts/setup-system.sh as root (apt-get install qemu-system-arm)",
            )
        image = ensure_image()
        job = GuestJob.from_arguments(arguments)
        files: dict[str, Path | bytes] = {f"{GUEST}/agent.py": agent_path(), **job.inputs}
        files[f"{GUEST}/job.json"] = json.dumps({"marker": job.marker, "arguments": job.arguments}).encode()
        with tempfile.TemporaryDirectory(prefix="edgeship-icount-") as scratch:
            initramfs = Path(scratch) / "initramfs.cpio"
            image.write_initramfs(initramfs, job.runtimes, files)
            command = qemu_command(self.cpu, image.kernel, initramfs)
            try:
                booted = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
            except subprocess.TimeoutExpired as exc:
                raise DeviceError(
                    f"device '{self.name}': the guest did not power off within {timeout:g} s",
                    hint="use fewer --runs / --warmup or a shorter --seq-len (every instruction is emulated)",
                ) from exc
        if booted.returncode != 0:
            return Completed(
                booted.returncode, "", booted.stderr.decode(errors="replace").strip() or "qemu failed"
            )
        return job.completed(booted.stdout.decode(errors="replace"))
