"""LiteRT sessions for .tflite artifacts: ai-edge-litert on the host, tflite-runtime as the fallback."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from edgeship.errors import BundleError, MissingDependencyError
from edgeship.runtimes.base import register_runtime
from edgeship.runtimes.native_stderr import silenced_native_stderr

QUANTIZED_DTYPES = (np.int8, np.uint8, np.int16)


class LiteRtSession:
    """A LiteRT interpreter (XNNPACK on the CPU) driven through the model's default signature.

    Feeds are cast to the artifact's input types (int64 token ids -> int32; float -> int8 with the input's
    scale and zero point for full-integer models) and quantized outputs are dequantized to float32, so
    callers feed and compare exactly as they do for ONNX.
    """

    def __init__(self, path: Path, threads: int | None = None) -> None:
        interpreter_class, self.runtime = _interpreter_class()
        self.runtime_version = _package_version(self.runtime)
        try:
            with silenced_native_stderr():
                self._interpreter = interpreter_class(model_path=str(path), num_threads=threads or None)
                self._interpreter.allocate_tensors()
                self._runner = self._interpreter.get_signature_runner()
        except (ValueError, RuntimeError) as exc:
            raise BundleError(
                f"{self.runtime} cannot load '{path}': {' '.join(str(exc).split())[:300]}",
                hint="the file is corrupt, or needs ops this runtime lacks (see the message); re-export it",
            ) from exc
        self.input_details: dict[str, dict[str, Any]] = self._runner.get_input_details()
        self.output_details: dict[str, dict[str, Any]] = self._runner.get_output_details()
        self.input_names = list(self.input_details)
        batch_dims = {int(d["shape"][0]) for d in self.input_details.values()}
        dynamic = any(int(d["shape_signature"][0]) < 0 for d in self.input_details.values())
        self.fixed_batch: int | None = None if dynamic or len(batch_dims) != 1 else batch_dims.pop()

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run one inference; outputs in signature order, dequantized to float32 where quantized."""
        prepared = {name: _to_input(feeds[name], detail) for name, detail in self.input_details.items()}
        outputs = self._runner(**prepared)
        return [_from_output(outputs[name], detail) for name, detail in self.output_details.items()]


def _interpreter_class() -> tuple[Any, str]:
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite-runtime"
    except ImportError as exc:
        raise MissingDependencyError(
            "no LiteRT runtime is installed (ai-edge-litert or tflite-runtime)",
            hint="pip install 'edgeship[tflite]' (or just ai-edge-litert to run .tflite files)",
        ) from exc


def _package_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _to_input(array: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Cast (or quantize) one feed to the dtype the artifact's input tensor has."""
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if dtype.type in QUANTIZED_DTYPES and scale and np.issubdtype(array.dtype, np.floating):
        info = np.iinfo(dtype)
        quantized = np.round(array / scale + zero_point)
        return np.clip(quantized, info.min, info.max).astype(dtype)
    return np.ascontiguousarray(array, dtype=dtype)


def _from_output(array: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Dequantize an integer output with its scale and zero point; float outputs pass through."""
    scale, zero_point = detail["quantization"]
    if np.dtype(detail["dtype"]).type in QUANTIZED_DTYPES and scale:
        return ((array.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return array


@register_runtime("tflite")
def open_litert(path: Path, threads: int | None) -> LiteRtSession:
    """Open a .tflite artifact."""
    return LiteRtSession(path, threads)
