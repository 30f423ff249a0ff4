"""Training batches for distillation (length-grouped text, tagged words, question windows, pre-processed
images) and the held-out score (accuracy of a classifier, entity F1 of a token classifier, SQuAD F1 of an
extractive QA model, Spearman of a sentence encoder)."""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import torch

from edgeship.compress.finetune import _encode, _length_grouped_batches, _token_lengths
from edgeship.compress.finetune_qa import encode_windows
from edgeship.sources.data import (
    ImageExamples,
    QuestionExamples,
    SimilarityExamples,
    TaggedExamples,
    TextExamples,
)
from edgeship.sources.loading import LoadedModel
from edgeship.sources.preprocess import encode_words, load_image
from edgeship.tasks.base import get_task
from edgeship.tasks.spans import SpanReferences

Examples: TypeAlias = TextExamples | ImageExamples | SimilarityExamples | TaggedExamples | QuestionExamples
"""Training or held-out examples; a sentence encoder trains on the texts of SimilarityExamples alone (no
pairs needed) and is scored on their pairs; a token classifier's are words with a tag each; an extractive
QA model's are questions about contexts with their answers."""


@dataclass
class QuestionWindows:
    """Questions encoded as the teacher reads them: each context in windows of max_length tokens sharing
    the task's doc_stride, the first gold answer's (start, end) token per window ((0, 0) where the window
    does not hold it), and what decoding answers over all of a question's windows reads."""

    inputs: dict[str, np.ndarray]
    labels: np.ndarray
    references: SpanReferences
    name: str
    label_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        """Real tokens of each window."""
        return self.inputs["attention_mask"].sum(axis=1)


Rows: TypeAlias = TextExamples | ImageExamples | SimilarityExamples | TaggedExamples | QuestionWindows
"""What training iterates over: one row per example, or per window of a question's context."""


def training_rows(examples: Examples, teacher: LoadedModel, max_length: int) -> Rows:
    """The examples as training rows: questions become their contexts' windows, other examples stay."""
    if isinstance(examples, QuestionExamples):
        return question_windows(examples, teacher, max_length)
    return examples


def question_windows(examples: QuestionExamples, teacher: LoadedModel, max_length: int) -> QuestionWindows:
    """Every question with its context as windows of `max_length` tokens and the gold span's token
    positions in each, as the QA fine-tuner and eval encode them."""
    inputs, positions, references = encode_windows(teacher.tokenizer, examples, max_length)
    return QuestionWindows(inputs=inputs, labels=positions, references=references, name=examples.name)


def run_batches(
    rows: Rows, teacher: LoadedModel, batch_size: int, epochs: int, max_length: int, seed: int
) -> list[list[int]]:
    """Every batch of the run, epoch after epoch, in a fixed order derived from `seed` (resume skips a prefix)."""
    if isinstance(rows, QuestionWindows):
        lengths = [int(length) for length in rows.lengths]
    elif isinstance(rows, TextExamples | SimilarityExamples | TaggedExamples):
        lengths = _token_lengths(teacher.tokenizer, rows.texts, max_length)
    else:
        lengths = [0] * len(rows)
    batches: list[list[int]] = []
    for epoch in range(epochs):
        batches.extend(_length_grouped_batches(lengths, batch_size, random.Random(seed * 1000 + epoch)))
    return batches


def load_images(examples: ImageExamples, teacher: LoadedModel) -> torch.Tensor:
    """Every image pre-processed as the teacher expects, stacked into one NCHW tensor."""
    assert teacher.image_preprocessing is not None
    return torch.from_numpy(
        np.stack([load_image(path, teacher.image_preprocessing) for path in examples.paths])
    )


def encode_tagged(
    examples: TaggedExamples, indices: list[int], teacher: LoadedModel, max_length: int
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The sentences at `indices` as word pieces and their tags at each word's first piece (IGNORED elsewhere),
    padded to the longest of them."""
    tokenizer = teacher.tokenizer
    inputs, labels = encode_words(
        tokenizer,
        [examples.words[i] for i in indices],
        [examples.tags[i] for i in indices],
        max_length,
        list(tokenizer.model_input_names),
    )
    width = int(inputs["attention_mask"].sum(axis=1).max())
    return (
        {name: torch.from_numpy(np.ascontiguousarray(value[:, :width])) for name, value in inputs.items()},
        torch.from_numpy(np.ascontiguousarray(labels[:, :width])),
    )


def collate_function(examples: Rows, teacher: LoadedModel, max_length: int) -> Any:
    """Turns a list of row indices into (model inputs, labels); texts without labels give None, tagged
    words a label per token, question windows the gold (start, end) token."""
    if isinstance(examples, QuestionWindows):

        def collate_windows(indices: list[int]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
            width = int(examples.lengths[indices].max())
            inputs = {
                name: torch.from_numpy(np.ascontiguousarray(value[indices, :width]))
                for name, value in examples.inputs.items()
            }
            return inputs, torch.from_numpy(examples.labels[indices])

        return collate_windows
    if isinstance(examples, TaggedExamples):
        return lambda indices: encode_tagged(examples, indices, teacher, max_length)
    if isinstance(examples, SimilarityExamples):

        def collate_unlabelled(indices: list[int]) -> tuple[dict[str, torch.Tensor], None]:
            texts = [examples.texts[i] for i in indices]
            return _encode(teacher.tokenizer, texts, max_length, torch.device("cpu")), None

        return collate_unlabelled
    if isinstance(examples, TextExamples):

        def collate_text(indices: list[int]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
            inputs = _encode(
                teacher.tokenizer, [examples.texts[i] for i in indices], max_length, torch.device("cpu")
            )
            return inputs, torch.tensor([examples.labels[i] for i in indices])

        return collate_text
    pixels = load_images(examples, teacher)

    def collate_images(indices: list[int]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return {"pixel_values": pixels[indices]}, torch.tensor([examples.labels[i] for i in indices])

    return collate_images


def predict(model: Any, framework: str, examples: Rows, teacher: LoadedModel, max_length: int) -> np.ndarray:
    """Predicted label of each example by a (student or teacher) classifier."""

    def labels(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = model(inputs["pixel_values"]) if framework == "timm" else model(**inputs).logits
        return logits.argmax(dim=-1)

    return _batched(model, examples, teacher, max_length, labels)


def _batched(
    model: Any,
    examples: Rows,
    teacher: LoadedModel,
    max_length: int,
    output_of: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    batch_size: int = 64,
) -> np.ndarray:
    """`output_of(inputs)` for every row, run in eval mode in batches on the model's device."""
    device = next(model.parameters()).device
    collate = collate_function(examples, teacher, max_length)
    outputs = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(examples), batch_size):
            inputs, _ = collate(list(range(start, min(start + batch_size, len(examples)))))
            inputs = {name: value.to(device) for name, value in accepted_inputs(model, inputs).items()}
            outputs.append(output_of(inputs).cpu().numpy())
    return np.concatenate(outputs)


def accepted_inputs(model: Any, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inputs `model.forward` takes (DistilBERT takes no token_type_ids)."""
    parameters = inspect.signature(getattr(model, "module", model).forward).parameters
    if "pixel_values" in inputs or any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        return inputs
    return {name: value for name, value in inputs.items() if name in parameters}


def sentence_embeddings(
    model: Any, examples: SimilarityExamples, teacher: LoadedModel, max_length: int
) -> np.ndarray:
    """The sentence embedding of each text by a (student or teacher) encoder, pooled as the teacher pools."""
    task = get_task(teacher.task)
    return _batched(
        model,
        examples,
        teacher,
        max_length,
        lambda inputs: task.graph_output(model(**inputs), inputs, teacher.pooling).float(),
    )


def token_logits(
    model: Any, examples: TaggedExamples, teacher: LoadedModel, max_length: int, width: int
) -> np.ndarray:
    """A token classifier's tag logits [sentences, width tokens, tags], zero past each sentence's end."""

    def logits(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        out = model(**inputs).logits.float() * inputs["attention_mask"][..., None]
        return torch.nn.functional.pad(out, (0, 0, 0, width - out.shape[1]))

    return _batched(model, examples, teacher, max_length, logits)


def span_logits(model: Any, windows: QuestionWindows, teacher: LoadedModel, max_length: int) -> np.ndarray:
    """An extractive QA model's start and end logits [windows, max_length tokens, 2], zero past each
    window's end (decoding reads context tokens only)."""
    task = get_task(teacher.task)

    def logits(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        out = task.graph_output(model(**inputs), inputs, None).float() * inputs["attention_mask"][..., None]
        return torch.nn.functional.pad(out, (0, 0, 0, max_length - out.shape[1]))

    return _batched(model, windows, teacher, max_length, logits)


def held_out_score(
    model: Any, framework: str, examples: Examples, teacher: LoadedModel, max_length: int
) -> float:
    """The teacher task's metric of the model on held-out examples: accuracy, entity F1 of tagged words,
    SQuAD F1 of the best answer span over each question's windows, or Spearman on scored pairs."""
    if isinstance(examples, QuestionExamples):
        windows = question_windows(examples, teacher, max_length)
        outputs = span_logits(model, windows, teacher, max_length)
        return get_task(teacher.task).for_data(windows).score(outputs, windows.labels)
    if isinstance(examples, TaggedExamples):
        _, tags = encode_tagged(examples, list(range(len(examples))), teacher, max_length)
        logits = token_logits(model, examples, teacher, max_length, width=tags.shape[1])
        return get_task(teacher.task).with_labels(teacher.labels).score(logits, tags.numpy())
    if isinstance(examples, SimilarityExamples):
        embeddings = sentence_embeddings(model, examples, teacher, max_length)
        return get_task(teacher.task).score(embeddings, examples.labels)
    return float(
        np.mean(predict(model, framework, examples, teacher, max_length) == np.asarray(examples.labels))
    )
