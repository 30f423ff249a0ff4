"""token-classification: token ids in, one logit per IOB2 tag per token out (named entities).

Words are tagged at their first word piece; eval scores the entities those tags spell (seqeval's entity-level
F1, CoNLL's definition), and the app kits turn them into entity spans with character offsets.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from edgeship.errors import DataError
from edgeship.tasks.base import LoadedModel, register_task
from edgeship.tasks.classification import ClassificationTask
from edgeship.tasks.text_inputs import token_rows

IGNORED = -100
"""The label of a word piece that is not scored: a word's later pieces, special tokens, padding."""


@register_task
class TokenClassification(ClassificationTask):
    """A tag per token: B-TYPE starts an entity, I-TYPE continues it, O is outside any."""

    id = "token-classification"
    modality = "text"
    summary = "an IOB2 tag per word: named entities with character offsets"
    hf_head = "ForTokenClassification"
    data_formats = (
        "JSONL with tokens and ner_tags lists (IOB2 tags: O, B-PER, I-PER, ...)",
        "a CoNLL file (one 'word ... tag' per line, a blank line between sentences)",
        "a bundled dataset name (lee_ner, lee_ner_test: spaCy's silver entities of news text)",
    )
    data_kind = "tagged-words"
    per_token = True
    metric = "f1"
    distillation_loss = "per-token soft-target KL on the tag logits (real tokens only) + tag cross-entropy"
    postprocessing = "argmax tag at each word's first piece; B-/I- runs become entity spans with offsets"

    def sample_inputs(
        self, loaded: LoadedModel, samples: int, max_length: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """Rows of `max_length` tokens with different real lengths, so padding masks are exercised."""
        return token_rows(loaded, samples, max_length, rng)

    label_names: tuple[str, ...] = ()
    """The model's IOB2 tags, which entity F1 reads (set by `with_labels`)."""

    def with_labels(self, label_names: Sequence[str]) -> TokenClassification:
        """A copy of this task that scores with these tags."""
        bound = copy.copy(self)
        bound.label_names = tuple(label_names)
        return bound

    def score(self, outputs: np.ndarray, labels: np.ndarray) -> float:
        """Entity-level F1 (seqeval, CoNLL rules) of the tags at the scored pieces (`labels` >= 0).

        `outputs` is [rows, tokens, tags]; `labels` [rows, tokens] holds a tag index at each word's first
        piece and IGNORED elsewhere. The tags' names come from `with_labels`."""
        from seqeval.metrics import f1_score

        label_names = self.label_names
        if not label_names:
            raise DataError(
                "entity F1 needs the model's tag names",
                hint="evaluate a bundle whose manifest lists its tags",
            )
        predicted = self.predictions(outputs)
        truth, guesses = [], []
        for row_labels, row_predicted in zip(labels, predicted, strict=True):
            scored = row_labels != IGNORED
            truth.append([label_names[i] for i in row_labels[scored]])
            guesses.append([label_names[i] for i in row_predicted[scored]])
        return float(f1_score(truth, guesses, zero_division=0))

    def agreement(self, outputs: np.ndarray, reference: np.ndarray) -> float:
        """The fraction of real tokens (not padding: all-zero logit rows) tagged as `reference` tags them."""
        real = np.any(reference != 0, axis=-1)
        same = self.predictions(outputs) == self.predictions(reference)
        return float(np.mean(same[real])) if real.any() else 1.0
