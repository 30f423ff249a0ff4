"""Where TensorRT can run: the tensorrt package, a CUDA GPU, and whether an engine was built for them."""

from __future__ import annotations

import importlib
from typing import Any

from edgeship.errors import EdgeshipError, MissingDependencyError
from edgeship.manifest import GpuTarget

INSTALL_TENSORRT = 'pip install "edgeship[tensorrt]" (on a Jetson: JetPack ships TensorRT)'
NEED_GPU = "an NVIDIA GPU with its CUDA driver (nvidia-smi must list it)"
INT4_MIN_TENSORRT = 10


class EngineMismatchError(EdgeshipError):
    """A TensorRT engine built for another GPU or TensorRT version than the one here."""


def missing_requirements(has_tensorrt: bool, has_gpu: bool) -> MissingDependencyError | None:
    """The one-line error naming what TensorRT lacks here (the package, a GPU, or both); None if nothing."""
    missing = [name for name, present in (("TensorRT", has_tensorrt), ("a CUDA GPU", has_gpu)) if not present]
    if not missing:
        return None
    hints = ([INSTALL_TENSORRT] if not has_tensorrt else []) + ([f"run on {NEED_GPU}"] if not has_gpu else [])
    return MissingDependencyError(
        f"TensorRT needs the tensorrt package and a CUDA GPU; missing here: {' and '.join(missing)}",
        hint="; ".join(hints),
    )


def import_tensorrt() -> Any | None:
    """The tensorrt module, or None when it is not installed (or fails to load its CUDA libraries)."""
    try:
        return importlib.import_module("tensorrt")
    except (ImportError, OSError):
        return None


def cuda_available() -> bool:
    """Whether PyTorch sees a CUDA GPU (torch provides the device buffers and CUDA events)."""
    import torch

    return bool(torch.cuda.is_available())


def require_tensorrt() -> Any:
    """The tensorrt module, raising one line that names what is missing when it or the GPU is absent."""
    trt = import_tensorrt()
    error = missing_requirements(trt is not None, cuda_available())
    if error is not None:
        raise error
    return trt


def running_target(tensorrt_version: str, device: int = 0) -> GpuTarget:
    """The GPU this process runs on, with the TensorRT version loaded."""
    import torch

    major, minor = torch.cuda.get_device_capability(device)
    return GpuTarget(
        gpu=torch.cuda.get_device_name(device),
        compute_capability=f"{major}.{minor}",
        tensorrt=tensorrt_version,
    )


def mismatch(built: GpuTarget, running: GpuTarget) -> str | None:
    """Why an engine built for `built` cannot run on `running`, or None when it can.

    TensorRT engines are tied to the compute capability and the exact TensorRT version that built them;
    GPUs of one compute capability run each other's engines (TensorRT only warns), so the name is reported,
    not compared.
    """
    reasons = []
    if built.compute_capability != running.compute_capability:
        reasons.append(
            f"GPU compute capability {built.compute_capability} ({built.gpu}), "
            f"this one is {running.compute_capability} ({running.gpu})"
        )
    if built.tensorrt != running.tensorrt:
        reasons.append(f"TensorRT {built.tensorrt}, this one has {running.tensorrt}")
    return "; ".join(reasons) or None


def check_target(engine: str, built: GpuTarget | None, running: GpuTarget) -> None:
    """Refuse, in one line, an engine built for another GPU or TensorRT version than `running`."""
    if built is None:
        return
    reason = mismatch(built, running)
    if reason:
        raise EngineMismatchError(
            f"engine {engine} was built for {reason}",
            hint="rebuild it here: edgeship export MODEL --format tensorrt --out BUNDLE",
        )


def int4_supported(tensorrt_version: str) -> bool:
    """Whether this TensorRT builds INT4 weight-only (block-quantized DequantizeLinear) graphs: 10.0 and on."""
    major = tensorrt_version.split(".", 1)[0]
    return major.isdigit() and int(major) >= INT4_MIN_TENSORRT
