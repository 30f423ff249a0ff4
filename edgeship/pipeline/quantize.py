"""The quantize step: derive int8 / int4 variants from a bundle's fp32 artifact, checked and accuracy-aware."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeship.bundle import Bundle, sha256_of, staging_directory
from edgeship.compress.quantize.registry import Quantizer, QuantizeResult, get_quantizer
from edgeship.compress.quantize.spec import QuantizationSpec, get_scheme
from edgeship.console import console, step
from edgeship.errors import BundleError, DataError, EdgeshipError
from edgeship.export.parity import load_reference, measure_parity
from edgeship.manifest import Manifest, Parity, Producer, Variant
from edgeship.pipeline.evaluate import record_accuracy
from edgeship.pipeline.features import (
    EncodedExamples,
    Examples,
    encode_examples,
    load_examples,
    predict_logits,
)
from edgeship.runtimes.base import open_session
from edgeship.step_options import QuantizeStep
from edgeship.tasks.base import Task, get_task

SENSITIVITY_SAMPLES = 256


@dataclass(frozen=True)
class AccuracyBudget:
    """Eval data, the fp32 source's outputs on it, and what a quantized variant must keep of them."""

    eval_data: EncodedExamples
    split: str
    task: Task
    source_outputs: np.ndarray
    max_drop_points: float | None
    min_agreement: float | None

    @property
    def source_accuracy(self) -> float:
        """The fp32 source's metric on the eval data."""
        return self.task.score(self.source_outputs, self.eval_data.labels)

    def score(self, model: Path, artifact_format: str) -> tuple[float, float]:
        """The task's metric on the labels, and prediction agreement with the fp32 source."""
        outputs = predict_logits(open_session(model, artifact_format), self.eval_data)
        agreement = self.task.agreement(outputs, self.source_outputs)
        return self.task.score(outputs, self.eval_data.labels), agreement

    def holds(self, accuracy: float, agreement: float) -> bool:
        """Whether a variant scoring this stays within the budget."""
        drop_ok = (
            self.max_drop_points is None or (self.source_accuracy - accuracy) * 100 <= self.max_drop_points
        )
        return drop_ok and (self.min_agreement is None or agreement >= self.min_agreement)

    def describe(self, accuracy: float, agreement: float) -> str:
        """The score, its drop in points (hundredths: of a Spearman too) and the agreement with fp32."""
        drop = (self.source_accuracy - accuracy) * 100
        return (
            f"{self.task.metric} {self.task.format_score(accuracy)} (drop {drop:.2f} points), agreement with "
            f"fp32 {agreement:.4f}"
        )


def run_quantize(step: QuantizeStep) -> list[Variant]:
    """`edgeship quantize` and `edgeship.quantize`: the step's options applied."""
    return quantize_bundle(
        step.bundle,
        step.specs(step.scheme),
        artifact_format=step.format,
        source_variant=step.source,
        calibration_data=step.calibration_data,
        eval_data=step.eval_data,
        eval_split=step.eval_split,
        max_accuracy_drop=step.max_accuracy_drop,
        min_agreement=step.min_agreement,
    )


def quantize_bundle(
    bundle_dir: Path,
    specs: list[QuantizationSpec],
    *,
    artifact_format: str | None = None,
    source_variant: str | None = None,
    calibration_data: Path | Examples | None = None,
    eval_data: Path | Examples | None = None,
    eval_split: str = "eval",
    max_accuracy_drop: float | None = None,
    min_agreement: float | None = None,
) -> list[Variant]:
    """Quantize the fp32 variant (of `artifact_format`, needed when the bundle holds several) once per
    spec; each new variant gets parity and, with eval data, accuracy."""
    bundle = Bundle.open(bundle_dir)
    bundle.check_writable()
    source = _source_variant(bundle, artifact_format, source_variant)
    quantizers = [get_quantizer(source.format, spec.scheme) for spec in specs]
    calibration = _calibration(bundle, specs, calibration_data)
    source_path = bundle.verified_file(source)
    open_session(source_path, source.format)  # a corrupt file fails here, named, before any work
    budget = None
    if eval_data is not None:
        encoded = encode_examples(bundle, load_examples(bundle, eval_data))
        with step(f"Scoring {source.id} on {encoded.examples} eval examples"):
            outputs = predict_logits(open_session(source_path, source.format), encoded)
        task = get_task(bundle.manifest.source.task).for_data(encoded)
        budget = AccuracyBudget(encoded, eval_split, task, outputs, max_accuracy_drop, min_agreement)
    variants = []
    for spec, quantizer in zip(specs, quantizers, strict=True):
        batches = None
        if calibration is not None and spec.calibrates:
            batches = calibration.head(spec.calibration_samples).batches(1)
        with staging_directory(bundle.root) as staging:
            variant, staged = _quantize_one(
                bundle, source, source_path, quantizer, spec, batches, budget, staging
            )
            with bundle.update() as change:
                current_source = _unchanged_source(change.manifest, source)
                variant.file = change.install(staged, variant.file)[0]
                if budget is not None:
                    record_accuracy(
                        current_source,
                        budget.source_accuracy,
                        budget.eval_data,
                        eval_split,
                        budget.task.metric,
                    )
                change.manifest.put_variant(variant)
        variants.append(variant)
    return variants


def _unchanged_source(manifest: Manifest, source: Variant) -> Variant:
    """The source variant as the bundle lists it now, refusing one re-exported while this step ran."""
    current = manifest.variant(source.id)
    if current is None or current.sha256 != source.sha256:
        raise BundleError(
            f"variant '{source.id}' was changed by another command while it was being quantized",
            hint="run `edgeship quantize` again; nothing was written",
        )
    return current


def _source_variant(bundle: Bundle, artifact_format: str | None, variant_id: str | None) -> Variant:
    """The variant to quantize: `variant_id`, else FORMAT-fp32; with neither, onnx-fp32 where the bundle
    has one, else its only fp32 variant (a bundle exported to TFLite alone)."""
    if variant_id is None and artifact_format is None:
        fp32 = [v for v in bundle.manifest.variants if v.precision == "fp32"]
        if bundle.manifest.variant("onnx-fp32") is None and len(fp32) > 1:
            raise BundleError(
                f"bundle {bundle.root} has {len(fp32)} fp32 variants ({', '.join(v.id for v in fp32)}); "
                "which one to quantize is ambiguous",
                hint="pass " + " or ".join(f"--format {v.format}" for v in fp32),
            )
        artifact_format = fp32[0].format if len(fp32) == 1 else "onnx"
    wanted = variant_id or f"{artifact_format}-fp32"
    source = bundle.manifest.variant(wanted)
    if source is None:
        raise BundleError(
            f"bundle {bundle.root} has no variant '{wanted}' to quantize",
            hint=f"run `edgeship export MODEL --format {artifact_format or 'onnx'} --out {bundle.root}` first",
        )
    if source.precision != "fp32":
        raise BundleError(
            f"variant '{source.id}' is already quantized ({source.precision})",
            hint=f"quantize the fp32 variant ({source.format}-fp32) instead",
        )
    return source


def _calibration(
    bundle: Bundle, specs: list[QuantizationSpec], data: Path | Examples | None
) -> EncodedExamples | None:
    calibrating = [spec for spec in specs if spec.calibrates]
    if not calibrating:
        return None
    if data is None:
        raise DataError(
            f"{calibrating[0].calibrating_name} needs calibration samples and none were given",
            hint="pass --calibration-data FILE (CSV/JSONL or image folder) with real task samples",
        )
    return encode_examples(bundle, load_examples(bundle, data, scored=False))


def _quantize_one(
    bundle: Bundle,
    source: Variant,
    source_path: Path,
    quantizer: Quantizer,
    spec: QuantizationSpec,
    calibration: list[dict[str, np.ndarray]] | None,
    budget: AccuracyBudget | None,
    staging: Path,
) -> tuple[Variant, Path]:
    """Quantize into `staging` (falling back to float layers when the budget asks); the variant names the
    file it will be installed as."""
    # TensorRT-form Q/DQ graphs get their own id so they can sit beside the ONNX Runtime ones
    runtime_suffix = "-tensorrt" if spec.target_runtime == "tensorrt" else ""
    variant_id = f"{source.format}-{spec.scheme}{runtime_suffix}"
    suffix = Path(source.file).suffix
    staged = staging / f"{variant_id}{suffix}"
    with step(f"Quantizing {source.id} to {spec.scheme}"):
        result = quantizer.quantize(source_path, staged, spec, calibration)
    scores = None
    if budget is not None:
        scores = budget.score(staged, source.format)
        if not budget.holds(*scores):
            console.print(f"{spec.scheme}: {budget.describe(*scores)} is outside the budget")
            spec, scores = _fall_back(source, source_path, quantizer, spec, calibration, budget, staged)
            result = quantizer.quantize(source_path, staged, spec, calibration)
    parity = _parity(bundle, staged, source.format, spec.scheme)
    variant = Variant(
        id=variant_id,
        format=source.format,
        precision=spec.scheme,
        file=f"models/{variant_id}{suffix}",
        bytes=staged.stat().st_size,
        sha256=sha256_of(staged),
        produced_by=Producer(step="quantize", options=result.options, tools=result.tools),
        source_variant=source.id,
        kept_float=list(spec.keep_float),
        graph=result.graph,
        parity=parity,
    )
    _record_signature(bundle.manifest, source, variant, result)
    if budget is not None and scores is not None:
        record_accuracy(variant, scores[0], budget.eval_data, budget.split, budget.task.metric)
        variant.eval_agreement = scores[1]
    return variant, staged


def _record_signature(manifest: Manifest, source: Variant, variant: Variant, result: QuantizeResult) -> None:
    """Give `variant` its own I/O specs (in the source's input order) where they differ from the bundle's."""
    order = [spec.name for spec in manifest.inputs_of(source)]
    inputs = sorted(result.inputs, key=lambda s: order.index(s.name)) if result.inputs else source.inputs
    outputs = result.outputs or source.outputs
    if (inputs or manifest.inputs, outputs or manifest.outputs) != (manifest.inputs, manifest.outputs):
        variant.inputs, variant.outputs = inputs or manifest.inputs, outputs or manifest.outputs


def _parity(bundle: Bundle, artifact: Path, artifact_format: str, scheme: str) -> Parity:
    if bundle.manifest.parity_reference is None:
        raise BundleError(
            f"bundle {bundle.root} has no parity reference", hint="re-export it into a new directory"
        )
    inputs, reference = load_reference(bundle.path(bundle.manifest.parity_reference))
    return measure_parity(
        open_session(artifact, artifact_format),
        inputs,
        reference,
        get_scheme(scheme).tolerance,
        bundle.manifest.source.task,
    )


def _fall_back(
    source: Variant,
    source_path: Path,
    quantizer: Quantizer,
    spec: QuantizationSpec,
    calibration: list[dict[str, np.ndarray]] | None,
    budget: AccuracyBudget,
    scratch: Path,
) -> tuple[QuantizationSpec, tuple[float, float]]:
    """Keep the most sensitive layers in float, one more at a time, until the budget holds."""
    ranking = rank_sensitivity(source, source_path, quantizer, spec, calibration, budget.eval_data, scratch)
    tried: list[tuple[int, tuple[float, float]]] = []
    for count in range(1, len(ranking) + 1):
        candidate = spec.model_copy(update={"keep_float": tuple(ranking[:count])})
        quantizer.quantize(source_path, scratch, candidate, calibration)
        scores = budget.score(scratch, source.format)
        console.print(f"  keeping {count} layer(s) float: {budget.describe(*scores)}")
        if budget.holds(*scores):
            return candidate, scores
        tried.append((count, scores))
    limits = (
        [f"within {budget.max_drop_points} {budget.task.metric} points"]
        if budget.max_drop_points is not None
        else []
    )
    limits += [f"at {budget.min_agreement} agreement"] if budget.min_agreement is not None else []
    if not tried:
        raise EdgeshipError(
            f"{spec.scheme} cannot stay {' and '.join(limits)} of fp32 and has no layer that could stay float",
            hint="relax --max-accuracy-drop / --min-agreement or choose another scheme; nothing was written",
        )
    closest_count, closest = max(tried, key=lambda item: item[1])
    raise EdgeshipError(
        f"{spec.scheme} cannot stay {' and '.join(limits)} of fp32: kept 1 to {len(ranking)} of the "
        f"{len(ranking)} layers it quantizes float, most sensitive first; the closest, {closest_count} float, "
        f"reached {budget.describe(*closest)}",
        hint="relax --max-accuracy-drop / --min-agreement, choose another scheme, or run `edgeship debug` on "
        "the variant to see which layers lose the most; nothing was written",
    )


def rank_sensitivity(
    source: Variant,
    source_path: Path,
    quantizer: Quantizer,
    spec: QuantizationSpec,
    calibration: list[dict[str, np.ndarray]] | None,
    eval_data: EncodedExamples,
    scratch: Path,
) -> list[str]:
    """Layers ordered from most to least harmful: each quantized alone, scored by logit error vs fp32."""
    subset = eval_data.head(SENSITIVITY_SAMPLES)
    reference = predict_logits(open_session(source_path, source.format), subset)
    layers = quantizer.layers(source_path)
    errors = {}
    with console.status(f"Ranking {len(layers)} layers by sensitivity to {spec.scheme}") as status:
        for index, layer in enumerate(layers, start=1):
            status.update(f"Ranking layers by sensitivity to {spec.scheme}: {index}/{len(layers)} ({layer})")
            alone = spec.model_copy(update={"keep_float": tuple(name for name in layers if name != layer)})
            quantizer.quantize(source_path, scratch, alone, calibration)
            logits = predict_logits(open_session(scratch, source.format), subset)
            errors[layer] = float(np.mean((logits - reference) ** 2))
    ranking = sorted(layers, key=lambda name: errors[name], reverse=True)
    console.print(
        f"Most sensitive to {spec.scheme}: " + ", ".join(f"{n} ({errors[n]:.2e})" for n in ranking[:5])
    )
    return ranking
