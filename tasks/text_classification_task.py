"""text-classification: token ids in, one logit per label out (sentiment, topics, intent)."""

from __future__ import annotations

import numpy as np

from edgeship.tasks.base import LoadedModel, register_task
from edgeship.tasks.classification import ClassificationTask
from edgeship.tasks.text_inputs import token_rows


@register_task
class TextClassification(ClassificationTask):
    """A sequence classifier over a WordPiece/BPE tokenizer stored in the bundle."""

    id = "text-classification"
    modality = "text"
    summary = "a label for a text"
    hf_head = "ForSequenceClassification"
    data_formats = ("CSV or JSONL with text and label columns", "a bundled dataset name (rotten_tomatoes)")

    def sample_inputs(
        self, loaded: LoadedModel, samples: int, max_length: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """Rows of `max_length` tokens with different real lengths, so padding masks are exercised."""
        return token_rows(loaded, samples, max_length, rng)
