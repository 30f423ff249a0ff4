"""The eval step: accuracy of every variant of a bundle on a labelled set."""

from __future__ import annotations

from pathlib import Path

from edgeship.bundle import Bundle
from edgeship.console import console
from edgeship.manifest import EvaluatedOn, Variant
from edgeship.pipeline.features import (
    EncodedExamples,
    Examples,
    encode_examples,
    load_examples,
    predict_logits,
)
from edgeship.runtimes.base import open_session
from edgeship.step_options import EvalStep
from edgeship.tasks.base import get_task


def run_evaluate(step: EvalStep) -> dict[str, float]:
    """`edgeship eval` and `edgeship.evaluate`: the step's options applied."""
    return evaluate_bundle(
        step.bundle, step.data, variant_ids=step.variant, split=step.split, batch_size=step.batch_size
    )


def evaluate_bundle(
    bundle_dir: Path,
    data: Path | Examples,
    *,
    variant_ids: list[str] | None = None,
    split: str = "eval",
    batch_size: int = 32,
) -> dict[str, float]:
    """Measure accuracy per variant, record it with `evaluated_on` in the manifest, return it by id."""
    bundle = Bundle.open(bundle_dir)
    bundle.check_writable()
    encoded = encode_examples(bundle, load_examples(bundle, data))
    task = bundle.manifest.source.task
    evaluated = []
    for variant in bundle.select_variants(variant_ids):
        with console.status(f"Evaluating {variant.id} on {encoded.examples} {encoded.name} examples"):
            score = accuracy_of(bundle.verified_file(variant), variant.format, encoded, task, batch_size)
        evaluated.append((variant, score))
    with bundle.update() as change:
        for variant, score in evaluated:
            current = change.manifest.variant(variant.id)
            if current is not None and current.sha256 == variant.sha256:
                record_accuracy(current, score, encoded, split, get_task(task).metric)
    return {variant.id: score for variant, score in evaluated}


def accuracy_of(
    model: Path, artifact_format: str, encoded: EncodedExamples, task: str, batch_size: int = 32
) -> float:
    """The task's metric of the artifact's outputs against the labels."""
    outputs = predict_logits(open_session(model, artifact_format), encoded, batch_size)
    return get_task(task).for_data(encoded).score(outputs, encoded.labels)


def record_accuracy(
    variant: Variant, accuracy: float, encoded: EncodedExamples, split: str, metric: str
) -> float:
    """Store a score, the task's metric it is, and what it was measured on in the variant."""
    variant.accuracy = accuracy
    variant.evaluated_on = EvaluatedOn(
        dataset=encoded.name, split=split, samples=encoded.examples, metric=metric
    )
    return accuracy
