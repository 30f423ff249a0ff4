"""ONNX Runtime sessions for .onnx and .ort artifacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeship.errors import BundleError
from edgeship.runtimes.base import register_runtime


class OnnxRuntimeSession:
    """An onnxruntime InferenceSession on the CPU (or the providers given)."""

    runtime = "onnxruntime"
    fixed_batch: int | None = None

    def __init__(self, path: Path, threads: int | None = None, providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise BundleError(
                f"onnxruntime cannot load '{path}': {str(exc).splitlines()[0][:200]}",
                hint="the file is corrupt or truncated; re-export it",
            ) from exc
        self.runtime_version = ort.__version__
        self.input_names = [i.name for i in self._session.get_inputs()]
        batch_dims = {i.shape[0] for i in self._session.get_inputs()}
        only = next(iter(batch_dims)) if len(batch_dims) == 1 else None
        self.fixed_batch = only if isinstance(only, int) else None

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run one inference with the inputs this graph declares."""
        return self._session.run(None, {name: feeds[name] for name in self.input_names})


@register_runtime("onnx")
@register_runtime("ort")
def open_onnxruntime(path: Path, threads: int | None) -> OnnxRuntimeSession:
    """Open an ONNX or ORT-format artifact."""
    return OnnxRuntimeSession(path, threads)
