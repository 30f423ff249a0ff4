"""Labelled data as model inputs: load it for a bundle, encode it once, run any variant on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeship.bundle import Bundle
from edgeship.errors import DataError
from edgeship.manifest import ImagePreprocessing, Manifest, TextPreprocessing
from edgeship.runtimes.base import Session
from edgeship.sources.data import Examples, ImageExamples, SimilarityExamples, TextExamples, load_labelled
from edgeship.sources.preprocess import encode_texts, load_image
from edgeship.sources.similarity import load_similarity_pairs
from edgeship.tasks.base import get_task


@dataclass
class EncodedExamples:
    """Every example as one row of model inputs (text right-padded to max_length) plus its labels: one
    per row, or (scored pairs) one row (text 1, text 2, score) per pair."""

    inputs: dict[str, np.ndarray]
    labels: np.ndarray
    lengths: np.ndarray | None
    name: str
    pair_labels: bool = False

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    def head(self, count: int) -> EncodedExamples:
        """The first `count` examples (and the pairs between two of them)."""
        labels = self.labels[:count]
        if self.pair_labels:
            labels = self.labels[(self.labels[:, 0] < count) & (self.labels[:, 1] < count)]
        return EncodedExamples(
            inputs={k: v[:count] for k, v in self.inputs.items()},
            labels=labels,
            lengths=None if self.lengths is None else self.lengths[:count],
            name=self.name,
            pair_labels=self.pair_labels,
        )

    def batches(self, batch_size: int) -> list[dict[str, np.ndarray]]:
        """Row batches at full width (what calibration and static-shape artifacts take)."""
        return [
            {k: v[s : s + batch_size] for k, v in self.inputs.items()}
            for s in range(0, len(self), batch_size)
        ]


def load_examples(bundle: Bundle, data: Path | Examples, *, scored: bool = True) -> Examples:
    """Read data for this bundle's task (a file, an image folder or a bundled dataset's name), refusing
    texts for an image model and vice versa, and data of another task's shape. With `scored=False`
    (calibration, debugging inputs) a sentence encoder takes any texts: scores are not read."""
    from edgeship.sources.datasets import DATASETS

    if isinstance(data, Path) and not data.exists() and str(data) in DATASETS:
        data = DATASETS[str(data)]()
    holds_images = isinstance(data, ImageExamples) or (isinstance(data, Path) and data.is_dir())
    _check_modality(bundle.manifest, holds_images, data if isinstance(data, Path) else Path(data.name))
    task = get_task(bundle.manifest.source.task)
    pairs = task.data_kind == "scored-pairs"
    if pairs and not scored:
        from edgeship.sources.corpus import load_training_texts

        return load_training_texts(data)
    if isinstance(data, Path):
        return load_similarity_pairs(data) if pairs else load_labelled(data, bundle.manifest.source.labels)
    if isinstance(data, SimilarityExamples):
        shape = "scored text pairs" if data.pairs else "unscored texts"
    else:
        shape = "labelled data"
    if (shape == "scored text pairs") != pairs or shape == "unscored texts":
        raise DataError(
            f"{data.name} is {shape}, which {task.id} cannot be scored on",
            hint=f"pass {' or '.join(task.data_formats)}",
        )
    return data


def encode_examples(bundle: Bundle, examples: Examples) -> EncodedExamples:
    """Preprocess every example as the manifest says."""
    preprocessing = bundle.manifest.preprocessing
    labels = np.asarray(examples.labels)
    if isinstance(preprocessing, TextPreprocessing):
        assert isinstance(examples, (TextExamples, SimilarityExamples))
        import transformers

        tokenizer = transformers.AutoTokenizer.from_pretrained(str(bundle.path(preprocessing.tokenizer)))
        names = [tensor.name for tensor in bundle.manifest.inputs]
        inputs = encode_texts(
            tokenizer, examples.texts, preprocessing.max_length, names, pad_to_max_length=True
        )
        encoded = tokenizer(examples.texts, truncation=True, max_length=preprocessing.max_length)
        lengths = np.asarray([len(ids) for ids in encoded["input_ids"]])
        return EncodedExamples(
            inputs=inputs,
            labels=labels,
            lengths=lengths,
            name=examples.name,
            pair_labels=isinstance(examples, SimilarityExamples),
        )
    assert isinstance(examples, ImageExamples) and isinstance(preprocessing, ImagePreprocessing)
    pixels = np.stack([load_image(path, preprocessing) for path in examples.paths])
    return EncodedExamples(inputs={"pixel_values": pixels}, labels=labels, lengths=None, name=examples.name)


def predict_logits(session: Session, encoded: EncodedExamples, batch_size: int = 32) -> np.ndarray:
    """Logits for every example, in order; dynamic-shape artifacts get length-sorted, trimmed batches."""
    if session.fixed_batch is not None or encoded.lengths is None:
        step = session.fixed_batch or batch_size
        return np.concatenate([session.run(batch)[0] for batch in encoded.batches(step)])
    order = np.argsort(encoded.lengths, kind="stable")
    logits: list[np.ndarray] = []
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        width = int(encoded.lengths[chosen].max())
        logits.append(session.run({k: v[chosen, :width] for k, v in encoded.inputs.items()})[0])
    result = np.empty((len(order), logits[0].shape[-1]), dtype=np.float32)
    result[order] = np.concatenate(logits)
    return result


def _check_modality(manifest: Manifest, holds_images: bool, data: Path) -> None:
    """Refuse data of the other modality, naming the formats the model's task reads."""
    task = get_task(manifest.source.task)
    if (task.modality == "image") != holds_images:
        article = "an" if task.modality == "image" else "a"
        raise DataError(
            f"{manifest.source.model} is {article} {task.modality} model ({task.id}) but '{data}' holds "
            f"{'images' if holds_images else 'texts'}",
            hint=f"pass {' or '.join(task.data_formats)}",
        )
