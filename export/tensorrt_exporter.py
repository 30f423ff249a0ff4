"""TensorRT export: a plain ONNX graph (or the bundle's Q/DQ one) built into an engine for this GPU."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeship.errors import MissingDependencyError
from edgeship.export.onnx_exporter import tensor_spec
from edgeship.export.registry import (
    ExportOptions,
    ExportPrecision,
    ExportResult,
    get_exporter,
    register_exporter,
)
from edgeship.export.tensorrt_build import build_engine, default_timing_cache
from edgeship.export.tensorrt_config import (
    BUILDER_FLAGS,
    ShapeRange,
    check_buildable,
    optimization_profile,
    profile_options,
)
from edgeship.manifest import GpuTarget, GraphInfo, TensorSpec
from edgeship.runtimes.formats import get_format
from edgeship.runtimes.tensorrt_target import (
    INT4_MIN_TENSORRT,
    int4_supported,
    require_tensorrt,
    running_target,
)

if TYPE_CHECKING:
    from edgeship.sources.loading import LoadedModel


@dataclass(frozen=True)
class EnginePlan:
    """What an engine is built from: the ONNX graph (checked for TensorRT), its I/O and the shape profile."""

    graph: Path
    opset: int | None
    nodes: int
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    profile: list[ShapeRange]


@register_exporter("tensorrt")
class TensorrtExporter:
    """ONNX -> TensorRT engine on this machine's GPU; the engine runs only on this GPU and TensorRT version.

    fp32 and fp16 start from the model (ONNX without ONNX Runtime's fusions, which TensorRT cannot
    parse); int8 and int4 start from the bundle's explicit Q/DQ ONNX variant (no calibrator). With
    `edgeship export --device` the same graph is built on that device instead (`builds_on_device`).
    """

    format = "tensorrt"
    suffix = get_format(format).suffix
    builds_on_device = True
    precisions: tuple[ExportPrecision, ...] = ("fp32", "fp16", "int8", "int4")
    derived_from: dict[ExportPrecision, str] = {
        "int8": "onnx-int8-static-tensorrt",
        "int4": "onnx-int4-weight-tensorrt",
    }

    def check_ready(self, options: ExportOptions) -> None:
        """Fail in one line, before any work, when TensorRT, the GPU or int4 support is missing here."""
        trt = require_tensorrt()
        if options.precision == "int4" and not int4_supported(trt.__version__):
            raise MissingDependencyError(
                f"int4 weight-only engines need TensorRT {INT4_MIN_TENSORRT} or later; this is {trt.__version__}",
                hint='pip install -U "edgeship[tensorrt]"',
            )

    def plan(self, loaded: LoadedModel, options: ExportOptions, scratch: Path) -> EnginePlan:
        """The graph to build from (the bundle's Q/DQ variant, or a plain ONNX export of the model written
        into `scratch`), refused early when TensorRT cannot build it, with the engine's shape profile."""
        import onnx

        graph_path = options.source_graph or scratch / "plain.onnx"
        if options.source_graph is None:
            plain = options.model_copy(update={"optimize": False, "precision": "fp32", "source_graph": None})
            get_exporter("onnx").export(loaded, graph_path, plain)
        model = onnx.load(str(graph_path))
        check_buildable(model, options.precision)
        inputs = [tensor_spec(value) for value in model.graph.input]
        return EnginePlan(
            graph=graph_path,
            opset=next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
            nodes=len(model.graph.node),
            inputs=inputs,
            outputs=[tensor_spec(value) for value in model.graph.output],
            profile=optimization_profile(inputs, options.max_length, options.max_batch),
        )

    def describe(
        self,
        plan: EnginePlan,
        options: ExportOptions,
        *,
        layers: int,
        built_for: GpuTarget,
        timing_cache: str,
        extra: dict[str, Any] | None = None,
    ) -> ExportResult:
        """The export result of an engine built from `plan`, wherever it was built."""
        import onnx
        import torch

        return ExportResult(
            graph=GraphInfo(opset=plan.opset, nodes=layers, optimizer="tensorrt"),
            inputs=plan.inputs,
            outputs=plan.outputs,
            options={
                "precision": options.precision,
                "builder_flags": list(BUILDER_FLAGS[options.precision]),
                "profile": profile_options(plan.profile),
                "workspace_mb": options.workspace_mb,
                "timing_cache": timing_cache,
                **(extra or {}),
            },
            tools={"tensorrt": built_for.tensorrt, "torch": torch.__version__, "onnx": onnx.__version__},
            built_for=built_for,
        )

    def export(self, loaded: LoadedModel, destination: Path, options: ExportOptions) -> ExportResult:
        """Build the engine for `options.precision` into `destination`."""
        self.check_ready(options)
        trt = require_tensorrt()
        target = running_target(trt.__version__)
        timing_cache = options.timing_cache or default_timing_cache(target)
        with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
            plan = self.plan(loaded, options, Path(scratch))
            layers = build_engine(
                trt,
                plan.graph,
                destination,
                precision=options.precision,
                profile=plan.profile,
                workspace_mb=options.workspace_mb,
                timing_cache=timing_cache,
            )
        return self.describe(plan, options, layers=layers, built_for=target, timing_cache=str(timing_cache))
