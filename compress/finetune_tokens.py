"""Fine-tune a Hugging Face token classifier (NER) on tagged words, on CPU, with length-grouped batches."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from edgeship.compress.finetune import FineTuneOptions, train_length_grouped
from edgeship.errors import DataError
from edgeship.sources.data import TaggedExamples
from edgeship.sources.preprocess import encode_words


def fine_tune_token_classifier(
    model: Any, tokenizer: Any, train: TaggedExamples, options: FineTuneOptions, progress: bool = True
) -> dict[str, float]:
    """Fine-tune `model` in place on the tags at each word's first piece; returns {"steps", "final_loss"
    (mean of the last steps), "seconds"}."""
    if len(train) == 0:
        raise DataError(f"{train.name} has no sentences", hint="pass a non-empty tagged dataset")
    if model.config.num_labels != len(train.label_names):
        raise DataError(
            f"{train.name} has {len(train.label_names)} tags, the model's head {model.config.num_labels}",
            hint="load the model with num_labels equal to the dataset's number of tags",
        )
    inputs, labels = encode_words(
        tokenizer, train.words, train.tags, options.max_length, model_input_names(tokenizer)
    )
    lengths = inputs["attention_mask"].sum(axis=1).tolist()

    def batch_loss(batch: list[int]) -> torch.Tensor:
        width = max(lengths[i] for i in batch)  # each batch padded to its own longest sentence
        rows = {name: torch.from_numpy(values[batch, :width]) for name, values in inputs.items()}
        return model(**rows, labels=torch.from_numpy(labels[batch, :width])).loss

    return train_length_grouped(model, lengths, batch_loss, options, progress)


def predict_token_classifier(
    model: Any, tokenizer: Any, examples: TaggedExamples, max_length: int, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """The logits [sentences, max_length, tags] (zero past each row's length) and the labels encode_words
    gives, for scoring with the token-classification task."""
    inputs, labels = encode_words(
        tokenizer, examples.words, examples.tags, max_length, model_input_names(tokenizer)
    )
    logits = np.zeros((len(examples), max_length, model.config.num_labels), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(examples), batch_size):
            rows = {
                name: torch.from_numpy(values[start : start + batch_size]) for name, values in inputs.items()
            }
            logits[start : start + batch_size] = model(**rows).logits.numpy()
    logits *= inputs["attention_mask"][:, :, None]
    return logits, labels


def model_input_names(tokenizer: Any) -> list[str]:
    """The model inputs the tokenizer makes (token_type_ids only where it has them)."""
    return [
        name
        for name in ("input_ids", "attention_mask", "token_type_ids")
        if name in tokenizer.model_input_names
    ]
