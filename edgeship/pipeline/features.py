"""Labelled data as model inputs: load it for a bundle, encode it once, run any variant on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeship.bundle import Bundle
from edgeship.errors import DataError
from edgeship.manifest import ImagePreprocessing, Manifest, TextPreprocessing
from edgeship.runtimes.base import Session
from edgeship.sources.data import (
    Examples,
    ImageExamples,
    QuestionExamples,
    SimilarityExamples,
    TaggedExamples,
    TextExamples,
    load_labelled,
)
from edgeship.sources.preprocess import (
    answer_positions,
    encode_questions,
    encode_texts,
    encode_words,
    load_image,
)
from edgeship.sources.similarity import load_similarity_pairs
from edgeship.sources.tagging import load_tagged
from edgeship.tasks.base import get_task
from edgeship.tasks.spans import SpanReferences


@dataclass
class EncodedExamples:
    """Every example as one row of model inputs (text right-padded to max_length) plus its labels: one
    per row, (scored pairs) one row (text 1, text 2, score) per pair, (tagged words) one per token, or
    (questions) the gold answer's first and last token per window of a context."""

    inputs: dict[str, np.ndarray]
    labels: np.ndarray
    lengths: np.ndarray | None
    name: str
    pair_labels: bool = False
    label_names: list[str] = field(default_factory=list)
    """The model's label names, which a task's metric may read (entity F1 reads the IOB2 tags)."""
    references: SpanReferences | None = None
    """Questions: the windows' offsets, the contexts and the gold answers the answers are decoded with."""

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    @property
    def examples(self) -> int:
        """How many examples the rows hold: the rows, or the questions their windows belong to."""
        return len(self) if self.references is None else len(self.references.contexts)

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
            label_names=self.label_names,
            references=None if self.references is None else self.references.head(count),
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
        if task.data_kind == "tagged-words":
            return load_tagged(data, bundle.manifest.source.labels)
        if task.data_kind == "questions":
            from edgeship.sources.squad import load_questions

            return load_questions(data)
        return load_similarity_pairs(data) if pairs else load_labelled(data, bundle.manifest.source.labels)
    shape = {
        SimilarityExamples: "scored text pairs" if getattr(data, "pairs", None) else "unscored texts",
        TaggedExamples: "tagged words",
        QuestionExamples: "questions with answers",
    }.get(type(data), "labelled data")
    expected = {
        "scored-pairs": "scored text pairs",
        "tagged-words": "tagged words",
        "questions": "questions with answers",
        "labelled": "labelled data",
    }
    if shape != expected[task.data_kind]:
        raise DataError(
            f"{data.name} is {shape}, which {task.id} cannot be scored on",
            hint=f"pass {' or '.join(task.data_formats)}",
        )
    return data


def encode_examples(bundle: Bundle, examples: Examples) -> EncodedExamples:
    """Preprocess every example as the manifest says."""
    preprocessing = bundle.manifest.preprocessing
    label_names = list(bundle.manifest.source.labels)
    if isinstance(examples, TaggedExamples):
        return _encode_tagged(bundle, examples)
    if isinstance(examples, QuestionExamples):
        return _encode_questions(bundle, examples)
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
            label_names=label_names,
        )
    assert isinstance(examples, ImageExamples) and isinstance(preprocessing, ImagePreprocessing)
    pixels = np.stack([load_image(path, preprocessing) for path in examples.paths])
    return EncodedExamples(
        inputs={"pixel_values": pixels},
        labels=labels,
        lengths=None,
        name=examples.name,
        label_names=label_names,
    )


def _encode_tagged(bundle: Bundle, examples: TaggedExamples) -> EncodedExamples:
    """Each sentence's words as word pieces, its tags at each word's first piece (IGNORED elsewhere)."""
    import transformers

    preprocessing = bundle.manifest.preprocessing
    assert isinstance(preprocessing, TextPreprocessing)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(bundle.path(preprocessing.tokenizer)))
    names = [tensor.name for tensor in bundle.manifest.inputs]
    inputs, labels = encode_words(tokenizer, examples.words, examples.tags, preprocessing.max_length, names)
    return EncodedExamples(
        inputs=inputs,
        labels=labels,
        lengths=inputs["attention_mask"].sum(axis=1),
        name=examples.name,
        label_names=list(bundle.manifest.source.labels),
    )


def _encode_questions(bundle: Bundle, examples: QuestionExamples) -> EncodedExamples:
    """Each question and its context as windows of max_length tokens; the labels are the first gold
    answer's token positions in each window ((0, 0) where the window does not hold it)."""
    import transformers

    preprocessing = bundle.manifest.preprocessing
    assert isinstance(preprocessing, TextPreprocessing)
    if preprocessing.doc_stride is None or preprocessing.max_answer_length is None:
        raise DataError(
            f"{bundle.root} was not exported for question-answering (no doc_stride in its manifest)",
            hint="export a *ForQuestionAnswering model with --task question-answering into a new bundle",
        )
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(bundle.path(preprocessing.tokenizer)))
    names = [tensor.name for tensor in bundle.manifest.inputs]
    inputs, example_of_feature, offsets = encode_questions(
        tokenizer,
        examples.questions,
        examples.contexts,
        max_length=preprocessing.max_length,
        doc_stride=preprocessing.doc_stride,
        input_names=names,
    )
    labels = np.zeros((len(example_of_feature), 2), dtype=np.int64)
    for feature, example in enumerate(example_of_feature):
        text, start = examples.answers[example][0]
        labels[feature] = answer_positions(offsets[feature], start, start + len(text))
    return EncodedExamples(
        inputs=inputs,
        labels=labels,
        lengths=inputs["attention_mask"].sum(axis=1),
        name=examples.name,
        references=SpanReferences(
            example_of_feature=example_of_feature,
            offsets=offsets,
            contexts=examples.contexts,
            answers=[[text for text, _ in answers] for answers in examples.answers],
            max_answer_length=preprocessing.max_answer_length,
        ),
    )


def predict_logits(session: Session, encoded: EncodedExamples, batch_size: int = 32) -> np.ndarray:
    """Outputs for every example, in order; dynamic-shape artifacts get length-sorted, trimmed batches.

    Per-token outputs ([rows, tokens, ...]) come back at full width, zero past each row's length."""
    if session.fixed_batch is not None or encoded.lengths is None:
        step = session.fixed_batch or batch_size
        outputs = np.concatenate([session.run(batch)[0] for batch in encoded.batches(step)])
        return _zero_padding(outputs, encoded)
    order = np.argsort(encoded.lengths, kind="stable")
    full_width = next(iter(encoded.inputs.values())).shape[1]
    result: np.ndarray | None = None
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        width = int(encoded.lengths[chosen].max())
        batch = session.run({k: v[chosen, :width] for k, v in encoded.inputs.items()})[0]
        if result is None:
            per_token = batch.ndim == 3
            shape = (
                (len(order), full_width, *batch.shape[2:]) if per_token else (len(order), *batch.shape[1:])
            )
            result = np.zeros(shape, dtype=np.float32)
        if batch.ndim == 3:
            result[chosen, :width] = batch
        else:
            result[chosen] = batch
    assert result is not None
    return _zero_padding(result, encoded)


def _zero_padding(outputs: np.ndarray, encoded: EncodedExamples) -> np.ndarray:
    """Per-token outputs with the positions past each row's length set to zero (they mean nothing)."""
    if outputs.ndim != 3 or "attention_mask" not in encoded.inputs:
        return outputs
    return outputs * encoded.inputs["attention_mask"][: len(outputs), :, None].astype(outputs.dtype)


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
