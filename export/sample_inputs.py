"""Synthetic parity inputs: rows padded to the full sequence length, with mixed real lengths."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from edgeship.compress.sources import LoadedModel


def sample_inputs(
    loaded: LoadedModel, *, samples: int, max_length: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """`samples` rows per input; text rows have different real lengths so padding masks are tested.

    Every row has the same shape (text: `max_length` tokens), so static-shape artifacts (batch 1, fixed
    sequence) and dynamic ones take the same inputs.
    """
    rng = np.random.default_rng(seed)
    if loaded.task == "text-classification":
        return _text_rows(loaded, rng, samples, max_length)
    assert loaded.image_preprocessing is not None
    height, width = loaded.image_preprocessing.size
    return {"pixel_values": rng.standard_normal((samples, 3, height, width)).astype(np.float32)}


def _text_rows(
    loaded: LoadedModel, rng: np.random.Generator, samples: int, max_length: int
) -> dict[str, np.ndarray]:
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
