"""Turn raw texts and images into the numpy inputs an artifact takes, as the manifest describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeship.errors import DataError
from edgeship.manifest import ImagePreprocessing


def encode_texts(
    tokenizer: Any, texts: list[str], max_length: int, input_names: list[str], pad_to_max_length: bool = False
) -> dict[str, np.ndarray]:
    """Tokenize, truncated to `max_length` and padded to the longest text (or to max_length), as int64."""
    padding = "max_length" if pad_to_max_length else True
    encoded = tokenizer(texts, padding=padding, truncation=True, max_length=max_length, return_tensors="np")
    return {name: np.asarray(encoded[name], dtype=np.int64) for name in input_names}


def encode_words(
    tokenizer: Any, words: list[list[str]], tags: list[list[int]], max_length: int, input_names: list[str]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Pre-split sentences as word pieces padded to `max_length`, and per piece the tag of the word it
    starts (-100 on later pieces, special tokens, padding and words cut by truncation)."""
    if not getattr(tokenizer, "is_fast", False):
        raise DataError(
            f"{type(tokenizer).__name__} cannot map word pieces back to words",
            hint="token-classification needs a fast (Rust) tokenizer: save the model with tokenizer.json",
        )
    encoded = tokenizer(
        words, is_split_into_words=True, padding="max_length", truncation=True, max_length=max_length
    )
    labels = np.full((len(words), max_length), -100, dtype=np.int64)
    for row, sentence_tags in enumerate(tags):
        previous = None
        for position, word in enumerate(encoded.word_ids(row)):
            if word is not None and word != previous:
                labels[row, position] = sentence_tags[word]
            previous = word
    inputs = {name: np.asarray(encoded[name], dtype=np.int64) for name in input_names}
    return inputs, labels


def load_image(path: Path, spec: ImagePreprocessing) -> np.ndarray:
    """Resize the shorter side, centre-crop, scale to [0, 1] and normalise: a CHW float32 array."""
    from PIL import Image, UnidentifiedImageError

    resample = {
        "bilinear": Image.Resampling.BILINEAR,
        "bicubic": Image.Resampling.BICUBIC,
        "nearest": Image.Resampling.NEAREST,
    }[spec.interpolation]
    try:
        image = Image.open(path).convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"cannot read image '{path}'", hint="remove or replace the file") from exc
    height, width = spec.size
    scale = spec.resize_shorter_to / min(image.size)
    resized = image.resize(
        (max(width, round(image.width * scale)), max(height, round(image.height * scale))), resample
    )
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    cropped = resized.crop((left, top, left + width, top + height))
    scaled = np.asarray(cropped, dtype=np.float32) / 255.0
    normalised = (scaled - np.asarray(spec.mean, dtype=np.float32)) / np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32)


def encode_questions(
    tokenizer: Any,
    questions: list[str],
    contexts: list[str],
    *,
    max_length: int,
    doc_stride: int,
    input_names: list[str],
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Each question with its context as one or more windows of `max_length` tokens (consecutive windows
    share `doc_stride` context tokens); questions longer than half the sequence are cut.

    Returns the inputs per window, the question each window belongs to, and each token's character
    (start, end) in the context (-1, -1 for question, special and padding tokens)."""
    if not getattr(tokenizer, "is_fast", False):
        raise DataError(
            f"{type(tokenizer).__name__} cannot map tokens back to characters",
            hint="question-answering needs a fast (Rust) tokenizer: save the model with tokenizer.json",
        )
    questions = _cut_questions(tokenizer, questions, max_length // 2)
    encoded = tokenizer(
        [question.lstrip() for question in questions],
        contexts,
        truncation="only_second",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    offsets = np.full((len(encoded["input_ids"]), max_length, 2), -1, dtype=np.int64)
    for feature, spans in enumerate(encoded["offset_mapping"]):
        for position, segment in enumerate(encoded.sequence_ids(feature)):
            if segment == 1:
                offsets[feature, position] = spans[position]
    inputs = {name: np.asarray(encoded[name], dtype=np.int64) for name in input_names}
    return inputs, np.asarray(encoded["overflow_to_sample_mapping"], dtype=np.int64), offsets


def answer_positions(offsets: np.ndarray, start: int, end: int) -> tuple[int, int]:
    """The first and last token of the character span [start, end) in a window's `offsets`, or (0, 0)
    (the first token, as transformers' QA heads are trained) when the window does not hold all of it."""
    context = np.flatnonzero(offsets[:, 0] >= 0)
    if not len(context) or offsets[context[0], 0] > start or offsets[context[-1], 1] < end:
        return 0, 0
    first = int(context[np.searchsorted(offsets[context, 1], start, side="right")])
    last = int(context[np.searchsorted(offsets[context, 0], end, side="left") - 1])
    return first, last


def _cut_questions(tokenizer: Any, questions: list[str], max_tokens: int) -> list[str]:
    """Questions longer than `max_tokens` tokens cut after their `max_tokens`-th token."""
    encoded = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    return [
        question[: spans[max_tokens - 1][1]] if len(spans) > max_tokens else question
        for question, spans in zip(questions, encoded["offset_mapping"], strict=True)
    ]
