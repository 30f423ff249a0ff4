"""Fine-tune and run a Hugging Face sequence classifier on TextExamples, on CPU, with length-grouped batches."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import get_linear_schedule_with_warmup

from edgeship.console import training_progress
from edgeship.errors import DataError
from edgeship.sources.data import TextExamples

BUCKET_BATCHES = 50  # batches per length-sorted bucket: long enough to group lengths, short enough to mix
LOSS_WINDOW = 10  # steps averaged for the shown and the returned final loss


@dataclass
class FineTuneOptions:
    """Training hyper-parameters; the defaults fine-tune a MiniLM-sized encoder in one CPU epoch."""

    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 1e-4
    max_length: int = 64
    seed: int = 0
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01


def _token_lengths(tokenizer: Any, texts: list[str], max_length: int) -> list[int]:
    """Token count of each text after truncation to `max_length`."""
    encoded = tokenizer(texts, truncation=True, max_length=max_length)
    return [len(ids) for ids in encoded["input_ids"]]


def _length_grouped_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort each bucket of `BUCKET_BATCHES` batches by length, cut into batches, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    bucket = batch_size * BUCKET_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket):
        chunk = sorted(order[start : start + bucket], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _encode(
    tokenizer: Any, texts: list[str], max_length: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """Tokenize one batch, padded to its own longest text (not to `max_length`)."""
    encoded = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return {key: value.to(device) for key, value in encoded.items()}


def _check(model: Any, tokenizer: Any, examples: TextExamples) -> None:
    """Raise DataError when the examples cannot be fed to this model and tokenizer."""
    if len(examples) == 0:
        raise DataError(f"{examples.name} has no examples", hint="pass a non-empty dataset")
    if tokenizer.pad_token is None:
        raise DataError(
            "the tokenizer has no padding token", hint="set tokenizer.pad_token before fine-tuning"
        )
    num_labels = model.config.num_labels
    if examples.labels and not 0 <= min(examples.labels) <= max(examples.labels) < num_labels:
        raise DataError(
            f"{examples.name} has labels outside 0..{num_labels - 1}, the model's {num_labels} classes",
            hint="load the model with num_labels equal to the dataset's number of label names",
        )


def _optimizer(model: torch.nn.Module, options: FineTuneOptions) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices only (not on biases and LayerNorm weights)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": options.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=options.learning_rate)


def fine_tune_text_classifier(
    model: Any, tokenizer: Any, train: TextExamples, options: FineTuneOptions, progress: bool = True
) -> dict[str, float]:
    """Fine-tune `model` in place; returns {"steps", "final_loss" (mean of the last steps), "seconds"}."""
    _check(model, tokenizer, train)
    device = next(model.parameters()).device

    def batch_loss(batch: list[int]) -> torch.Tensor:
        inputs = _encode(tokenizer, [train.texts[i] for i in batch], options.max_length, device)
        labels = torch.tensor([train.labels[i] for i in batch], device=device)
        return model(**inputs, labels=labels).loss

    lengths = _token_lengths(tokenizer, train.texts, options.max_length)
    return train_length_grouped(model, lengths, batch_loss, options, progress)


def train_length_grouped(
    model: Any,
    lengths: list[int],
    batch_loss: Callable[[list[int]], torch.Tensor],
    options: FineTuneOptions,
    progress: bool = True,
) -> dict[str, float]:
    """AdamW with linear warm-up and decay over length-grouped batches of example indices; `batch_loss`
    gives a batch's loss. Returns {"steps", "final_loss" (mean of the last steps), "seconds"}."""
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    total_steps = -(-len(lengths) // options.batch_size) * options.epochs
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
                loss = batch_loss(batch)
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


def predict_text_classifier(
    model: Any, tokenizer: Any, examples: TextExamples, max_length: int, batch_size: int = 64
) -> np.ndarray:
    """Predicted label (argmax of the logits) for each example, in the examples' order."""
    _check(model, tokenizer, examples)
    device = next(model.parameters()).device
    lengths = _token_lengths(tokenizer, examples.texts, max_length)
    order = sorted(range(len(examples)), key=lambda i: lengths[i])
    predictions = np.empty(len(examples), dtype=np.int64)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = _encode(tokenizer, [examples.texts[i] for i in batch], max_length, device)
            predictions[batch] = model(**inputs).logits.argmax(dim=-1).cpu().numpy()
    return predictions
