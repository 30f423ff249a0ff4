"""The Python API: the CLI's steps with the same options (keyword arguments named like the flags, validated
by the same models), returning what they wrote instead of printing it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeship.bundle import Bundle
from edgeship.options import validate_options
from edgeship.step_options import BenchStep, DebugStep, DistillStep, EvalStep, ExportStep, QuantizeStep

if TYPE_CHECKING:
    from edgeship.manifest import Benchmark, LayerDebug, Variant

MODULE_PLACEHOLDER = "torch-module"


def export(model: Any, out: str | Path, **options: Any) -> Bundle:
    """Export `model` (an HF directory or hub id, timm:NAME, module.py:factory, or a torch.nn.Module object)
    into the bundle `out`; options as `edgeship export`'s flags (format="tflite", task=..., tokenizer=...)."""
    from edgeship.pipeline.export import run_export

    spec = model if isinstance(model, str | Path) else MODULE_PLACEHOLDER
    step = validate_options(ExportStep, {"model": str(spec), "out": out, **options}, "export")
    bundle, _ = run_export(step, module=None if isinstance(model, str | Path) else model)
    return bundle


def quantize(bundle: str | Path, scheme: str | list[str], **options: Any) -> list[Variant]:
    """Quantized variants of the bundle's fp32 artifact; options as `edgeship quantize`'s flags."""
    from edgeship.pipeline.quantize import run_quantize

    return run_quantize(
        validate_options(QuantizeStep, {"bundle": bundle, "scheme": scheme, **options}, "quantize")
    )


def distill(teacher: str, data: str | Path, out: str | Path, **options: Any) -> Bundle:
    """Train a student of `teacher` on `data` into the bundle `out`; options as `edgeship distill`'s flags."""
    from edgeship.pipeline.distill import run_distill

    step = validate_options(
        DistillStep, {"teacher": teacher, "data": str(data), "out": out, **options}, "distill"
    )
    return run_distill(step).bundle


def evaluate(bundle: str | Path, data: str | Path, **options: Any) -> dict[str, float]:
    """Accuracy per variant id, recorded in the manifest; options as `edgeship eval`'s flags."""
    from edgeship.pipeline.evaluate import run_evaluate

    return run_evaluate(validate_options(EvalStep, {"bundle": bundle, "data": data, **options}, "eval"))


def bench(bundle: str | Path, device: str = "local", **options: Any) -> list[Benchmark]:
    """Latency of the variants on `device`, recorded in the manifest; options as `edgeship bench`'s flags."""
    from edgeship.pipeline.bench import run_bench

    return run_bench(validate_options(BenchStep, {"bundle": bundle, "device": device, **options}, "bench"))


def debug(bundle: str | Path, variant: str, **options: Any) -> LayerDebug:
    """Every layer of `variant` against PyTorch or another variant, recorded in the manifest; options as
    `edgeship debug`'s flags (against, data, samples, model, checkpoint, device)."""
    from edgeship.numerics.run import run_debug

    return run_debug(validate_options(DebugStep, {"bundle": bundle, "variant": variant, **options}, "debug"))


__all__ = ["Bundle", "bench", "debug", "distill", "evaluate", "export", "quantize"]
