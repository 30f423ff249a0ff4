"""question-answering: a question and its context in, a start and an end logit per token out (extractive QA).

The exported graph returns both as one `span_logits` tensor [batch, sequence, 2] (channel 0 start, 1 end).
A context longer than the sequence is read in windows that share `doc_stride` tokens; the answer is the
best span over all of a question's windows, cut from the context by character offsets (tasks/spans.py),
and it is scored with SQuAD's F1 (exact match is reported beside it).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeship.errors import DataError
from edgeship.manifest import Parity
from edgeship.tasks.base import EncodedData, LoadedModel, Task, register_task
from edgeship.tasks.classification import scaled_tolerance
from edgeship.tasks.spans import SpanReferences, answer_texts, best_spans, squad_scores
from edgeship.tasks.text_inputs import token_rows

if TYPE_CHECKING:
    import torch

MAX_ANSWER_LENGTH = 30
"""The longest answer span in tokens (transformers' question-answering default)."""
QUESTION_TOKENS = 12
"""Tokens of the synthetic question in sample inputs: the rest of a row is context."""


@register_task
class QuestionAnswering(Task):
    """The answer is a span of the context: the tokens between the best start and the best end."""

    id = "question-answering"
    modality = "text"
    summary = "extractive QA: the answer span of a context, with character offsets"
    hf_head = "ForQuestionAnswering"
    data_formats = (
        "SQuAD v1.1 JSON (data / paragraphs / context / qas / answers with text and answer_start)",
        "JSONL with question, context and answers {text: [...], answer_start: [...]} per line",
        "a bundled dataset name (lee_qa, lee_qa_test: templated questions; squad_sample, quoref_sample)",
    )
    data_kind = "questions"
    per_token = True
    output_name = "span_logits"
    metric = "f1"
    distillation_loss = (
        "soft-target KL on the start and on the end distribution + cross-entropy to the gold span"
    )
    postprocessing = (
        "best start + end logit over context tokens (span <= max_answer_length, all windows); text by offsets"
    )

    references: SpanReferences | None = None
    """The windows' offsets, contexts and gold answers the metric decodes with (set by `for_data`)."""

    def sample_inputs(
        self, loaded: LoadedModel, samples: int, max_length: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """Rows laid out as the model's tokenizer lays out a question and its context (e.g. [CLS] q [SEP]
        c [SEP], or <s> q </s></s> c </s>, which Longformer's QA head counts), random ids in each part."""
        rows = token_rows(loaded, samples, max_length, rng)
        layout = _pair_layout(loaded.tokenizer) or _PairLayout([], [], [], 0, 1)  # no specials: types only
        if max_length < 2 * QUESTION_TOKENS + len(layout.special_ids):
            return rows
        for row, length in enumerate(rows["attention_mask"].sum(axis=1)):
            if length < 2 * QUESTION_TOKENS + len(layout.special_ids):
                continue
            ids, types = layout.row(rows["input_ids"][row, : int(length)], QUESTION_TOKENS)
            rows["input_ids"][row, : int(length)] = ids
            if "token_type_ids" in rows:
                rows["token_type_ids"][row, : int(length)] = types
        return rows

    def default_preprocessing(self, max_length: int) -> dict[str, Any]:
        """A quarter of the sequence shared between windows, answers up to MAX_ANSWER_LENGTH tokens."""
        return {"doc_stride": max(1, max_length // 4), "max_answer_length": MAX_ANSWER_LENGTH}

    def parity(self, outputs: np.ndarray, reference: np.ndarray, tolerance: float) -> Parity:
        """Max abs logit difference, and how often the start and the end token (argmax over the
        sequence) are both the same."""
        same = outputs.argmax(axis=1) == reference.argmax(axis=1)
        return Parity(
            max_abs_diff=float(np.max(np.abs(outputs - reference))),
            argmax_agreement=float(np.mean(np.all(same, axis=-1))),
            samples=len(reference),
            tolerance=scaled_tolerance(tolerance, reference),
        )

    def parity_holds(self, parity: Parity) -> bool:
        """Within the tolerance, and the same start and end token for every input."""
        return parity.max_abs_diff <= parity.tolerance and parity.argmax_agreement >= 1.0

    def for_data(self, encoded: EncodedData) -> QuestionAnswering:
        """A copy of this task that decodes with the encoded questions' windows, contexts and answers."""
        if not isinstance(encoded.references, SpanReferences):
            raise DataError(
                f"{encoded.name} was not encoded as questions with contexts",
                hint=f"pass {' or '.join(self.data_formats)}",
            )
        bound = copy.copy(self)
        bound.references = encoded.references
        return bound

    def scores(self, outputs: np.ndarray) -> dict[str, float]:
        """SQuAD's exact match and F1 (fractions) of the answers `outputs` decode to."""
        references = self._bound()
        predicted = answer_texts(best_spans(outputs, references), references.contexts)
        return squad_scores(predicted, references.answers)

    def score(self, outputs: np.ndarray, labels: np.ndarray) -> float:
        """SQuAD F1 (the labels, gold token positions per window, are what training reads)."""
        return self.scores(outputs)["f1"]

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        """Each question's answer as its character [start, end) in the context."""
        return best_spans(outputs, self._bound())

    def agreement(self, outputs: np.ndarray, reference: np.ndarray) -> float:
        """The fraction of questions given the same answer span as `reference` gives them."""
        same = np.all(self.predictions(outputs) == self.predictions(reference), axis=-1)
        return float(np.mean(same)) if len(same) else 1.0

    def graph_output(
        self, model_output: Any, inputs: dict[str, torch.Tensor], pooling: str | None
    ) -> torch.Tensor:
        """start_logits and end_logits stacked on a last axis: [batch, sequence, 2]."""
        import torch

        if hasattr(model_output, "start_logits"):
            start, end = model_output.start_logits, model_output.end_logits
        elif isinstance(model_output, dict):
            start, end = model_output["start_logits"], model_output["end_logits"]
        else:
            start, end = model_output[0], model_output[1]
        return torch.stack([start, end], dim=-1)

    def _bound(self) -> SpanReferences:
        if self.references is None:
            raise DataError(
                "extractive QA scores need the questions' contexts and answers",
                hint="evaluate on question-answering data (the task's for_data binds it)",
            )
        return self.references


@dataclass(frozen=True)
class _PairLayout:
    """Where a tokenizer puts its special tokens around a question and a context, and each part's
    token type."""

    prefix: list[int]
    middle: list[int]
    suffix: list[int]
    question_type: int
    context_type: int

    @property
    def special_ids(self) -> list[int]:
        return self.prefix + self.middle + self.suffix

    def row(self, random_ids: np.ndarray, question_tokens: int) -> tuple[np.ndarray, np.ndarray]:
        """`random_ids` re-laid as prefix, `question_tokens` question ids, middle, context ids, suffix
        (without special tokens of its own: only the token types change)."""
        context_tokens = len(random_ids) - question_tokens - len(self.special_ids)
        own = 1 if self.special_ids else 0  # past the row's own [CLS] ... [SEP] when re-laying them
        words = list(np.concatenate([random_ids[own : len(random_ids) - own], random_ids]))
        question, context = words[:question_tokens], words[question_tokens : question_tokens + context_tokens]
        ids = self.prefix + question + self.middle + context + self.suffix
        types = [self.question_type] * (len(self.prefix) + question_tokens + len(self.middle))
        types += [self.context_type] * (context_tokens + len(self.suffix))
        return np.asarray(ids, dtype=np.int64), np.asarray(types, dtype=np.int64)


def _pair_layout(tokenizer: Any) -> _PairLayout | None:
    """The tokenizer's question/context layout, read off its encoding of a one-word pair (None when it
    adds no special tokens to pairs)."""
    try:
        encoded = tokenizer("a", "b", return_special_tokens_mask=True, return_token_type_ids=True)
    except (TypeError, ValueError, KeyError):
        return None
    ids, special = list(encoded["input_ids"]), list(encoded["special_tokens_mask"])
    types = list(encoded.get("token_type_ids") or [0] * len(ids))
    words = [position for position, flag in enumerate(special) if not flag]
    if len(words) != 2 or not any(special):
        return None
    first, second = words
    return _PairLayout(
        prefix=ids[:first],
        middle=ids[first + 1 : second],
        suffix=ids[second + 1 :],
        question_type=types[first],
        context_type=types[second],
    )
