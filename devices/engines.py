"""Whether a device can run a bundle's TensorRT engines: an NVIDIA GPU, TensorRT, and the engine's target."""

from __future__ import annotations

from typing import Any

from edgeship.devices.base import Device
from edgeship.errors import DeviceError
from edgeship.manifest import GpuTarget, Variant
from edgeship.runtimes.tensorrt_target import INSTALL_TENSORRT, mismatch


def check_engines(device: Device, probe: dict[str, Any], engines: list[Variant]) -> None:
    """Refuse, in one line, engines the device cannot run: no GPU, no TensorRT (Python or trtexec), or built
    for another compute capability or TensorRT version than the device reports."""
    if not engines:
        return
    names = ", ".join(v.id for v in engines)
    gpu = probe.get("gpu")
    if not gpu:
        raise DeviceError(
            f"device '{device.name}' has no NVIDIA GPU to run {names}",
            hint="benchmark engines on a machine with an NVIDIA GPU (--device local-gpu, or a Jetson)",
        )
    tensorrt = probe.get("runtimes", {}).get("tensorrt")
    if tensorrt is None and not gpu.get("trtexec"):
        raise DeviceError(
            f"device '{device.name}' has a GPU ({gpu['name']}) but no TensorRT to run {names}",
            hint=INSTALL_TENSORRT,
        )
    for variant in engines:
        built = variant.built_for
        if built is None:
            continue
        running = GpuTarget(
            gpu=gpu["name"],
            compute_capability=gpu.get("compute_capability") or built.compute_capability,
            tensorrt=tensorrt or built.tensorrt,  # trtexec alone does not say its version: TensorRT will
        )
        reason = mismatch(built, running)
        if reason:
            raise DeviceError(
                f"engine {variant.id} was built for {reason} (device '{device.name}')",
                hint=f"build the engine where it runs: edgeship export MODEL --format tensorrt on '{device.name}'",
            )
