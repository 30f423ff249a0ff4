"""TensorRT sessions for .engine artifacts: torch CUDA tensors as device buffers, CUDA-event timing; and the
tensorrt format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeship.manifest import GpuTarget, Manifest
from edgeship.runtimes.base import register_runtime
from edgeship.runtimes.formats import Format, register_format
from edgeship.runtimes.tensorrt_target import (
    INSTALL_TENSORRT,
    EngineMismatchError,
    check_target,
    require_tensorrt,
    running_target,
)

TENSORRT = register_format(
    Format(
        id="tensorrt",
        suffix=".engine",
        runtimes=("tensorrt",),
        install_hint=INSTALL_TENSORRT,
        gpu_only=True,
    )
)
MB = 1 << 20


class TensorrtSession:
    """A deserialized engine with one execution context and stream on GPU 0."""

    runtime = "tensorrt"
    fixed_batch: int | None = None

    def __init__(self, path: Path, built_for: GpuTarget | None = None) -> None:
        import torch

        trt = require_tensorrt()
        self.runtime_version = trt.__version__
        self.target = running_target(trt.__version__)
        check_target(path.name, built_for, self.target)
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.ERROR))
        engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None:
            raise EngineMismatchError(
                f"TensorRT {trt.__version__} on {self.target.gpu} (compute capability "
                f"{self.target.compute_capability}) cannot load {path.name}: it was built for another GPU or "
                "TensorRT version, or the file is damaged",
                hint="rebuild it here: edgeship export MODEL --format tensorrt --out BUNDLE",
            )
        self._engine = engine
        self._context = engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.input_names, self.output_names = inputs, [n for n in names if n not in inputs]
        self._dtypes = {name: np.dtype(trt.nptype(engine.get_tensor_dtype(name))) for name in names}
        batch_dims = {int(engine.get_tensor_shape(name)[0]) for name in inputs}
        only = next(iter(batch_dims)) if len(batch_dims) == 1 else -1
        self.fixed_batch = only if only > 0 else None
        self._stream = torch.cuda.Stream()

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Copy the inputs to the GPU, run once, copy the outputs back (in the engine's output order)."""
        _, outputs = self._bind(feeds)
        self._execute()
        self._stream.synchronize()
        return [tensor.cpu().numpy() for tensor in outputs]

    def time_runs(self, feeds: dict[str, np.ndarray], runs: int, warmup: int) -> list[float]:
        """Milliseconds per inference measured with CUDA events (inputs already on the GPU)."""
        import torch

        self._bind(feeds)
        for _ in range(warmup):
            self._execute()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        timings = []
        for _ in range(runs):
            start.record(self._stream)
            self._execute()
            end.record(self._stream)
            end.synchronize()
            timings.append(float(start.elapsed_time(end)))
        return timings

    def gpu_memory_mb(self) -> dict[str, float]:
        """GPU memory: in use on the device (all processes), its total, and the engine's activation memory."""
        import torch

        free, total = torch.cuda.mem_get_info()
        activations = getattr(self._engine, "device_memory_size_v2", None) or self._engine.device_memory_size
        return {"used": (total - free) / MB, "total": total / MB, "engine_activations": activations / MB}

    def _bind(self, feeds: dict[str, np.ndarray]) -> tuple[list[Any], list[Any]]:
        """Device tensors for the inputs (in the engine's dtypes) and outputs, with their addresses set."""
        import torch

        inputs = []
        for name in self.input_names:
            array = np.ascontiguousarray(feeds[name], dtype=self._dtypes[name])
            tensor = torch.from_numpy(array).cuda()
            self._context.set_input_shape(name, tuple(array.shape))
            self._context.set_tensor_address(name, tensor.data_ptr())
            inputs.append(tensor)
        outputs = []
        for name in self.output_names:
            dtype = torch.from_numpy(np.empty(0, self._dtypes[name])).dtype
            tensor = torch.empty(tuple(self._context.get_tensor_shape(name)), dtype=dtype, device="cuda")
            self._context.set_tensor_address(name, tensor.data_ptr())
            outputs.append(tensor)
        self._buffers = (inputs, outputs)  # keep the memory alive while the context points at it
        return inputs, outputs

    def _execute(self) -> None:
        self._context.execute_async_v3(self._stream.cuda_stream)


def recorded_target(engine: Path) -> GpuTarget | None:
    """The GPU and TensorRT version the bundle's manifest records for `engine` (None outside a bundle)."""
    manifest_file = engine.resolve().parent.parent / "manifest.json"
    if not manifest_file.is_file():
        return None
    manifest = Manifest.model_validate_json(manifest_file.read_text(encoding="utf-8"))
    root = manifest_file.parent
    return next(
        (v.built_for for v in manifest.variants if (root / v.file).resolve() == engine.resolve()), None
    )


@register_runtime(TENSORRT.id)
def open_tensorrt(path: Path, threads: int | None) -> TensorrtSession:
    """Open an engine, refusing one the bundle says was built for another GPU or TensorRT version."""
    return TensorrtSession(path, recorded_target(path))
