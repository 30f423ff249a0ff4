"""Extractive QA's shared post-processing: the best answer span of a question over its context's windows,
and SQuAD v1.1's exact match and F1 (the official script's definitions).

A context longer than the sequence is read in overlapping windows (features); each window's tokens carry
their character span in the context, (-1, -1) for question, special and padding tokens. The answer is
the span (start token <= end token, at most `max_answer_length` tokens, context tokens only) with the
highest start + end logit over all of its question's windows, and its text is cut from the context by
the tokens' character offsets.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NOT_CONTEXT = -1
"""The character offset of a token that is not part of the context."""
PUNCTUATION = frozenset(string.punctuation)


@dataclass(frozen=True)
class SpanReferences:
    """What decoding answers reads besides the logits.

    Per feature (window): `example_of_feature` (the question it belongs to) and `offsets` [features,
    tokens, 2] (each token's character start and end in the context, NOT_CONTEXT elsewhere). Per question:
    its context and gold answer texts."""

    example_of_feature: np.ndarray
    offsets: np.ndarray
    contexts: list[str]
    answers: list[list[str]]
    max_answer_length: int

    def head(self, features: int) -> SpanReferences:
        """The first `features` windows and the questions they belong to."""
        examples = int(self.example_of_feature[:features].max()) + 1 if features else 0
        return SpanReferences(
            example_of_feature=self.example_of_feature[:features],
            offsets=self.offsets[:features],
            contexts=self.contexts[:examples],
            answers=self.answers[:examples],
            max_answer_length=self.max_answer_length,
        )


def best_spans(span_logits: np.ndarray, references: SpanReferences) -> np.ndarray:
    """Per question, the character [start, end) of its best answer span: [questions, 2]
    ((0, 0), an empty answer, when no window has a context token)."""
    questions = len(references.contexts)
    best_score = np.full(questions, -np.inf)
    spans = np.zeros((questions, 2), dtype=np.int64)
    tokens = span_logits.shape[1]
    allowed = _allowed_pairs(tokens, references.max_answer_length)
    for feature, logits in enumerate(span_logits):
        question = int(references.example_of_feature[feature])
        offsets = references.offsets[feature, :tokens]
        context = offsets[:, 0] != NOT_CONTEXT
        if not context.any():
            continue
        pair_scores = np.where(
            allowed & context[:, None] & context[None, :],
            logits[:, 0, None].astype(np.float64) + logits[None, :, 1],
            -np.inf,
        )
        start, end = np.unravel_index(int(np.argmax(pair_scores)), pair_scores.shape)
        if pair_scores[start, end] > best_score[question]:
            best_score[question] = pair_scores[start, end]
            spans[question] = offsets[start, 0], offsets[end, 1]
    return spans


def answer_texts(spans: np.ndarray, contexts: Sequence[str]) -> list[str]:
    """The answers' texts, cut from their contexts."""
    return [context[start:end] for (start, end), context in zip(spans, contexts, strict=True)]


def _allowed_pairs(tokens: int, max_answer_length: int) -> np.ndarray:
    """[tokens, tokens]: True where end >= start and the span is at most `max_answer_length` tokens."""
    start, end = np.indices((tokens, tokens))
    return (end >= start) & (end - start < max_answer_length)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles (a, an, the), single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in PUNCTUATION)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def exact_match(prediction: str, truth: str) -> float:
    """1.0 when the normalised texts are equal."""
    return float(normalize_answer(prediction) == normalize_answer(truth))


def token_f1(prediction: str, truth: str) -> float:
    """The F1 of the normalised texts' word overlap (SQuAD's F1 for one answer)."""
    predicted, true = normalize_answer(prediction).split(), normalize_answer(truth).split()
    common = sum((Counter(predicted) & Counter(true)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(true)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: Sequence[str], answers: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean exact match and F1 (fractions), each question scored against its best-matching gold answer."""
    if not predictions:
        return {"exact_match": 0.0, "f1": 0.0}
    matches = [max(exact_match(p, a) for a in golds) for p, golds in zip(predictions, answers, strict=True)]
    f1s = [max(token_f1(p, a) for a in golds) for p, golds in zip(predictions, answers, strict=True)]
    return {"exact_match": float(np.mean(matches)), "f1": float(np.mean(f1s))}
