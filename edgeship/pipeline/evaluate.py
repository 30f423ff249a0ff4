"""The eval step: accuracy of every variant of a bundle on a labelled set."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeship.bundle import Bundle
from edgeship.compress.data import ImageExamples, TextExamples, load_labelled
from edgeship.compress.preprocess import encode_texts, load_image
from edgeship.console import console
from edgeship.errors import DataError
from edgeship.manifest import EvaluatedOn, ImagePreprocessing, Manifest, TextPreprocessing
from edgeship.runtimes.base import open_session

Batch = tuple[dict[str, np.ndarray], np.ndarray]


def evaluate_bundle(
    bundle_dir: Path,
    data: Path | TextExamples | ImageExamples,
    *,
    variant_ids: list[str] | None = None,
    split: str = "eval",
    batch_size: int = 32,
) -> dict[str, float]:
    """Measure accuracy per variant, record it with `evaluated_on` in the manifest, return it by id."""
    bundle = Bundle.open(bundle_dir)
    holds_images = isinstance(data, ImageExamples) or (isinstance(data, Path) and data.is_dir())
    _check_modality(bundle.manifest, holds_images, data if isinstance(data, Path) else Path(data.name))
    examples = data if not isinstance(data, Path) else load_labelled(data, bundle.manifest.source.labels)
    batches = _batches(bundle, examples, batch_size)
    accuracies = {}
    for variant in bundle.select_variants(variant_ids):
        session = open_session(bundle.verified_file(variant), variant.format)
        correct = 0
        with console.status(f"Evaluating {variant.id} on {len(examples)} {examples.name} examples"):
            for feeds, labels in batches:
                correct += int(np.sum(session.run(feeds)[0].argmax(-1) == labels))
        variant.accuracy = correct / len(examples)
        variant.evaluated_on = EvaluatedOn(dataset=examples.name, split=split, samples=len(examples))
        accuracies[variant.id] = variant.accuracy
    bundle.save()
    return accuracies


def _check_modality(manifest: Manifest, holds_images: bool, data: Path) -> None:
    model_takes_images = isinstance(manifest.preprocessing, ImagePreprocessing)
    if model_takes_images and not holds_images:
        raise DataError(
            f"{manifest.source.model} is an image model but '{data}' holds texts",
            hint="pass a folder laid out as DIR/<label>/<image>",
        )
    if holds_images and not model_takes_images:
        raise DataError(
            f"{manifest.source.model} is a text model but '{data}' holds images",
            hint="pass a CSV/JSONL file with text and label columns",
        )


def _batches(bundle: Bundle, examples: TextExamples | ImageExamples, batch_size: int) -> list[Batch]:
    preprocessing = bundle.manifest.preprocessing
    if isinstance(examples, TextExamples) and isinstance(preprocessing, TextPreprocessing):
        return _text_batches(bundle, bundle.manifest, preprocessing, examples, batch_size)
    assert isinstance(examples, ImageExamples) and isinstance(preprocessing, ImagePreprocessing)
    return _image_batches(preprocessing, examples, batch_size)


def _text_batches(
    bundle: Bundle, manifest: Manifest, spec: TextPreprocessing, examples: TextExamples, batch_size: int
) -> list[Batch]:
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(bundle.path(spec.tokenizer)))
    input_names = [tensor.name for tensor in manifest.inputs]
    order = sorted(range(len(examples)), key=lambda i: len(examples.texts[i]))
    labels = np.asarray(examples.labels)
    batches = []
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        feeds = encode_texts(tokenizer, [examples.texts[i] for i in chosen], spec.max_length, input_names)
        batches.append((feeds, labels[chosen]))
    return batches


def _image_batches(spec: ImagePreprocessing, examples: ImageExamples, batch_size: int) -> list[Batch]:
    labels = np.asarray(examples.labels)
    batches = []
    for start in range(0, len(examples), batch_size):
        paths = examples.paths[start : start + batch_size]
        pixels = np.stack([load_image(path, spec) for path in paths])
        batches.append(({"pixel_values": pixels}, labels[start : start + batch_size]))
    return batches
