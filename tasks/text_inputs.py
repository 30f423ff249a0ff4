"""Synthetic token rows for text tasks: parity inputs, tracing examples, calibration stand-ins."""

from __future__ import annotations

import numpy as np

from edgeship.tasks.base import LoadedModel


def token_rows(
    loaded: LoadedModel, samples: int, max_length: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Rows of `max_length` tokens with different real lengths (CLS ... SEP, then padding), so padding
    masks are exercised; one row per sample for each of the model's inputs."""
    loaded.check_max_length(max_length)
    tokenizer = loaded.tokenizer
    vocab_size = int(loaded.config.vocab_size)
    lengths = rng.integers(low=min(4, max_length), high=max_length + 1, size=samples)
    lengths[0] = max_length
    input_ids = np.full((samples, max_length), tokenizer.pad_token_id or 0, dtype=np.int64)
    attention_mask = np.zeros((samples, max_length), dtype=np.int64)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = rng.integers(low=min(1000, vocab_size // 2), high=vocab_size, size=length)
        if tokenizer.cls_token_id is not None and tokenizer.sep_token_id is not None:
            input_ids[row, 0], input_ids[row, length - 1] = tokenizer.cls_token_id, tokenizer.sep_token_id
        attention_mask[row, :length] = 1
    rows = {"input_ids": input_ids, "attention_mask": attention_mask}
    if "token_type_ids" in loaded.input_names:
        rows["token_type_ids"] = np.zeros((samples, max_length), dtype=np.int64)
    return {name: rows[name] for name in loaded.input_names}
