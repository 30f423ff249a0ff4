"""text-classification: token ids in, one logit per label out (sentiment, topics, intent)."""

from __future__ import annotations

import numpy as np

from edgeship.tasks.base import LoadedModel, register_task
from edgeship.tasks.classification import ClassificationTask


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
        loaded.check_max_length(max_length)
        tokenizer = loaded.tokenizer
        vocab_size = int(loaded.config.vocab_size)
        lengths = rng.integers(low=min(4, max_length), high=max_length + 1, size=samples)
        lengths[0] = max_length
        input_ids = np.full((samples, max_length), tokenizer.pad_token_id or 0, dtype=np.int64)
        attention_mask = np.zeros((samples, max_length), dtype=np.int64)
        for row, length in enumerate(lengths):
            input_ids[row, :length] = rng.integers(
                low=min(1000, vocab_size // 2), high=vocab_size, size=length
            )
            if tokenizer.cls_token_id is not None and tokenizer.sep_token_id is not None:
                input_ids[row, 0], input_ids[row, length - 1] = tokenizer.cls_token_id, tokenizer.sep_token_id
            attention_mask[row, :length] = 1
        rows = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in loaded.input_names:
            rows["token_type_ids"] = np.zeros((samples, max_length), dtype=np.int64)
        return {name: rows[name] for name in loaded.input_names}
