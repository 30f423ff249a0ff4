"""`edgeship export --precision`: which precisions a format writes, what they build from, how parity gates."""

from __future__ import annotations

from pathlib import Path

from edgeship.bundle import Bundle
from edgeship.compress.quantize.spec import get_scheme
from edgeship.errors import BundleError, EdgeshipError
from edgeship.export.registry import VARIANT_PRECISION, Exporter, ExportOptions
from edgeship.manifest import Parity
from edgeship.tasks.base import get_task


def check_precision(exporter: Exporter, options: ExportOptions, out: Path, here: bool = True) -> str | None:
    """Refuse a precision the format does not write, or one built from a bundle variant `out` lacks; then,
    when the artifact is built `here` (not on a device), let the exporter check this host (TensorRT, GPU).
    Returns the id of the variant to build from, if any."""
    precisions = getattr(exporter, "precisions", ("fp32",))
    if options.precision not in precisions:
        raise EdgeshipError(
            f"--format {exporter.format} writes {', '.join(precisions)}, not --precision {options.precision}",
            hint="int8 / int4 artifacts of ONNX and TFLite come from `edgeship quantize`",
        )
    source = getattr(exporter, "derived_from", {}).get(options.precision)
    if source is not None and not (out / "manifest.json").is_file():
        raise BundleError(
            f"--precision {options.precision} builds from the bundle's {source} variant, and {out} is not a bundle",
            hint=f"export and quantize first: edgeship export MODEL --out {out} --no-optimize, then "
            f"edgeship quantize {out} --scheme {VARIANT_PRECISION[options.precision]} --target-runtime tensorrt",
        )
    check_ready = getattr(exporter, "check_ready", None)
    if check_ready is not None and here:
        check_ready(options)
    return source


def with_source_graph(bundle: Bundle, options: ExportOptions, source: str | None) -> ExportOptions:
    """`options` pointing at the bundle's (checksum-verified) `source` variant file, when there is one."""
    if source is None:
        return options
    variant = bundle.manifest.variant(source)
    if variant is None:
        raise BundleError(
            f"bundle {bundle.root} has no {source} variant to build a {options.precision} engine from",
            hint=f"edgeship quantize {bundle.root} --scheme {VARIANT_PRECISION[options.precision]} "
            "--target-runtime tensorrt",
        )
    return options.model_copy(update={"source_graph": bundle.verified_file(variant)})


def parity_tolerance(options: ExportOptions, fp32_tolerance: float) -> float:
    """The max abs diff vs PyTorch recorded (and, for fp32 / fp16, enforced) for this precision."""
    if options.precision == "fp32":
        return fp32_tolerance
    return get_scheme(VARIANT_PRECISION[options.precision]).tolerance


def parity_fails(options: ExportOptions, parity: Parity, task: str) -> bool:
    """fp32 must meet the task's parity criterion; fp16 must meet the tolerance; int8 / int4 record parity
    without gating on it, as `edgeship quantize` does (accuracy is what gates)."""
    if options.precision == "fp32":
        return not get_task(task).parity_holds(parity)
    return options.precision == "fp16" and parity.max_abs_diff > parity.tolerance
