"""LiteRT sessions for .tflite artifacts (ai-edge-litert, tflite-runtime as the fallback), opened by the
agent's opener, and the tflite format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeship.errors import BundleError, MissingDependencyError
from edgeship.runtimes import agent
from edgeship.runtimes.base import register_runtime
from edgeship.runtimes.formats import Format, register_format
from edgeship.runtimes.native_stderr import silenced_native_stderr

TFLITE = register_format(
    Format(
        id="tflite",
        suffix=".tflite",
        runtimes=("ai-edge-litert", "tflite-runtime"),
        install_hint="python3 -m pip install ai-edge-litert",
        schemes=("int8-dynamic", "int8-static", "int4-weight", "fp16"),
    )
)


class LiteRtSession:
    """A LiteRT interpreter through the model's default signature, feeds cast and outputs dequantized as the
    agent does (`agent.open_litert`), so callers feed and compare exactly as they do for ONNX."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            package = agent.litert_interpreter()[1]
            with silenced_native_stderr():
                self._runner = agent.open_litert(str(path), threads)
        except agent.MissingRuntime as exc:
            raise MissingDependencyError(
                "no LiteRT runtime is installed (ai-edge-litert or tflite-runtime)",
                hint="pip install 'edgeship[tflite]' (or just ai-edge-litert to run .tflite files)",
            ) from exc
        except (ValueError, RuntimeError) as exc:
            raise BundleError(
                f"{package} cannot load '{path}': {' '.join(str(exc).split())[:300]}",
                hint="the file is corrupt, or needs ops this runtime lacks (see the message); re-export it",
            ) from exc
        self.runtime, self.runtime_version = self._runner.package, self._runner.version
        self.input_details: dict[str, dict[str, Any]] = self._runner.inputs
        self.output_details: dict[str, dict[str, Any]] = self._runner.outputs
        self.input_names = list(self.input_details)
        self.fixed_batch = self._runner.fixed_batch

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run one inference; outputs in signature order, dequantized to float32 where quantized."""
        return list(self._runner.run(feeds))


@register_runtime(TFLITE.id)
def open_litert(path: Path, threads: int | None) -> LiteRtSession:
    """Open a .tflite artifact."""
    return LiteRtSession(path, threads)
