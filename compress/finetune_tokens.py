"""Fine-tune a Hugging Face token classifier (NER) on tagged words, on CPU, with length-grouped batches."""

from __future__ import annotations

import random
import time
from collections import deque
from typing import Any

import numpy as np
import torch
from transformers import get_linear_schedule_with_warmup

from edgeship.compress.finetune import LOSS_WINDOW, FineTuneOptions, _length_grouped_batches, _optimizer
from edgeship.console import training_progress
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
    names = [
        name
        for name in ("input_ids", "attention_mask", "token_type_ids")
        if name in tokenizer.model_input_names
    ]
    inputs, labels = encode_words(tokenizer, train.words, train.tags, options.max_length, names)
    lengths = inputs["attention_mask"].sum(axis=1).tolist()
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    total_steps = -(-len(train) // options.batch_size) * options.epochs
    optimizer = _optimizer(model, options)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, round(options.warmup_ratio * total_steps), total_steps
    )
    recent: deque[float] = deque(maxlen=LOSS_WINDOW)
    start = time.perf_counter()
    model.train()
    with training_progress("fine-tuning", enabled=progress) as bar:
        task = bar.add_task("train", total=total_steps, loss="-")
        for _ in range(options.epochs):
            for batch in _length_grouped_batches(lengths, options.batch_size, rng):
                width = max(lengths[i] for i in batch)
                rows = {name: torch.from_numpy(values[batch, :width]) for name, values in inputs.items()}
                loss = model(**rows, labels=torch.from_numpy(labels[batch, :width])).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                recent.append(loss.item())
                bar.update(task, advance=1, loss=f"{sum(recent) / len(recent):.4f}")
    model.eval()
    return {
        "steps": total_steps,
        "final_loss": sum(recent) / len(recent),
        "seconds": time.perf_counter() - start,
    }


def predict_token_classifier(
    model: Any, tokenizer: Any, examples: TaggedExamples, max_length: int, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """The logits [sentences, max_length, tags] (zero past each row's length) and the labels encode_words
    gives, for scoring with the token-classification task."""
    names = [
        name
        for name in ("input_ids", "attention_mask", "token_type_ids")
        if name in tokenizer.model_input_names
    ]
    inputs, labels = encode_words(tokenizer, examples.words, examples.tags, max_length, names)
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
