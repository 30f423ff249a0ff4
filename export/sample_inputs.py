"""Synthetic input batches that exercise an artifact's dynamic axes (padding, several lengths)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from edgeship.compress.sources import LoadedModel


def sample_batches(
    loaded: LoadedModel, *, samples: int, max_length: int, batch_size: int = 4, seed: int = 0
) -> list[dict[str, np.ndarray]]:
    """`samples` inputs in batches; text batches mix lengths so padding masks are tested."""
    rng = np.random.default_rng(seed)
    sizes = [min(batch_size, samples - start) for start in range(0, samples, batch_size)]
    if loaded.task == "text-classification":
        return [_text_batch(loaded, rng, size, max_length) for size in sizes]
    assert loaded.image_preprocessing is not None
    height, width = loaded.image_preprocessing.size
    return [
        {"pixel_values": rng.standard_normal((size, 3, height, width)).astype(np.float32)} for size in sizes
    ]


def _text_batch(
    loaded: LoadedModel, rng: np.random.Generator, size: int, max_length: int
) -> dict[str, np.ndarray]:
    tokenizer = loaded.tokenizer
    vocab_size = int(loaded.config.vocab_size)
    lengths = rng.integers(low=min(4, max_length), high=max_length + 1, size=size)
    width = int(lengths.max())
    input_ids = np.full((size, width), tokenizer.pad_token_id or 0, dtype=np.int64)
    attention_mask = np.zeros((size, width), dtype=np.int64)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = rng.integers(low=min(1000, vocab_size // 2), high=vocab_size, size=length)
        if tokenizer.cls_token_id is not None and tokenizer.sep_token_id is not None:
            input_ids[row, 0], input_ids[row, length - 1] = tokenizer.cls_token_id, tokenizer.sep_token_id
        attention_mask[row, :length] = 1
    feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
    if "token_type_ids" in loaded.input_names:
        feeds["token_type_ids"] = np.zeros((size, width), dtype=np.int64)
    return {name: feeds[name] for name in loaded.input_names}
