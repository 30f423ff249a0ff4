"""Whether a device can build or run a bundle's TensorRT engines: an NVIDIA GPU, TensorRT, the engine's target."""

from __future__ import annotations

import re
from typing import Any

from edgeship.devices.base import Device
from edgeship.errors import DeviceError
from edgeship.manifest import GpuTarget, Variant
from edgeship.runtimes.tensorrt_target import INSTALL_TENSORRT, INT4_MIN_TENSORRT, int4_supported, mismatch

NEED_GPU_HINT = "use a machine with an NVIDIA GPU (--device local-gpu, or a Jetson)"


def _require_tensorrt(device: Device, probe: dict[str, Any], doing: str) -> tuple[dict[str, Any], str | None]:
    """The device's GPU and TensorRT Python version (None when it has trtexec alone); refuses, in one line,
    a device with no NVIDIA GPU or no TensorRT at all."""
    gpu = probe.get("gpu")
    if not gpu:
        raise DeviceError(f"device '{device.name}' has no NVIDIA GPU to {doing}", hint=NEED_GPU_HINT)
    tensorrt = probe.get("runtimes", {}).get("tensorrt")
    if tensorrt is None and not gpu.get("trtexec"):
        raise DeviceError(
            f"device '{device.name}' has a GPU ({gpu['name']}) but no TensorRT (Python package or trtexec) "
            f"to {doing}",
            hint=INSTALL_TENSORRT,
        )
    return gpu, tensorrt


def check_engines(device: Device, probe: dict[str, Any], engines: list[Variant]) -> None:
    """Refuse, in one line, engines the device cannot run: no GPU, no TensorRT (Python or trtexec), or built
    for another compute capability or TensorRT version than the device reports."""
    if not engines:
        return
    gpu, tensorrt = _require_tensorrt(device, probe, f"run {', '.join(v.id for v in engines)}")
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
                hint=f"build the engine where it runs: edgeship export MODEL --format tensorrt --device {device.name}",
            )


def check_can_build(device: Device, probe: dict[str, Any], variant_id: str, precision: str) -> None:
    """Refuse, in one line, a device that cannot build `variant_id`: no GPU, no TensorRT, a GPU whose compute
    capability it cannot tell (the engine records it), or int4 before TensorRT 10."""
    gpu, tensorrt = _require_tensorrt(device, probe, f"build {variant_id} on")
    if not re.fullmatch(r"\d+\.\d+", str(gpu.get("compute_capability") or "")):
        raise DeviceError(
            f"device '{device.name}' does not report the compute capability of its GPU ({gpu['name']})",
            hint="edgeship reads it from nvidia-smi, or from the Jetson model (Orin, Xavier, TX2, Nano)",
        )
    if precision == "int4" and tensorrt is not None and not int4_supported(tensorrt):
        raise DeviceError(
            f"int4 weight-only engines need TensorRT {INT4_MIN_TENSORRT} or later; device '{device.name}' has "
            f"{tensorrt}",
            hint="upgrade JetPack / TensorRT on the device, or build --precision int8",
        )
