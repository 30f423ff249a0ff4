"""ONNX Runtime sessions for .onnx and .ort artifacts, opened by the agent's opener, and their formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeship.errors import BundleError, MissingDependencyError
from edgeship.runtimes import agent
from edgeship.runtimes.base import register_runtime
from edgeship.runtimes.formats import Format, register_format

ONNX = register_format(
    Format(
        id="onnx",
        suffix=".onnx",
        runtimes=("onnxruntime",),
        install_hint="python3 -m pip install onnxruntime",
        schemes=("int8-dynamic", "int8-static", "int4-weight"),
    )
)
ORT = register_format(
    Format(
        id="ort",
        suffix=".ort",
        runtimes=("onnxruntime",),
        install_hint="python3 -m pip install onnxruntime",
    )
)


class OnnxRuntimeSession:
    """An onnxruntime InferenceSession on the CPU (or the providers given)."""

    runtime = "onnxruntime"

    def __init__(self, path: Path, threads: int | None = None, providers: list[str] | None = None) -> None:
        try:
            self._runner = agent.open_onnxruntime(str(path), threads, providers)
        except agent.MissingRuntime as exc:
            raise MissingDependencyError(
                "onnxruntime is not installed", hint="pip install onnxruntime"
            ) from exc
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise BundleError(
                f"onnxruntime cannot load '{path}': {str(exc).splitlines()[0][:200]}",
                hint="the file is corrupt or truncated; re-export it",
            ) from exc
        self.runtime_version = self._runner.version
        self.input_names = list(self._runner.inputs)
        self.fixed_batch = self._runner.fixed_batch

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run one inference with the inputs this graph declares."""
        return list(self._runner.run(feeds))


@register_runtime(ONNX.id)
@register_runtime(ORT.id)
def open_onnxruntime(path: Path, threads: int | None) -> OnnxRuntimeSession:
    """Open an ONNX or ORT-format artifact."""
    return OnnxRuntimeSession(path, threads)
