"""Fine-tune a timm image classifier on ImageExamples (new head, on CPU) into a checkpoint `load_model` reads."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

from edgeship.errors import DataError, OutputError
from edgeship.sources.data import ImageExamples

CHECKPOINT_FILE = "model.safetensors"
TRAINING_FILE = "training.json"
LOSS_WINDOW = 10  # steps averaged for the shown and the recorded final loss
WEIGHT_DECAY = 0.01
WARMUP_FRACTION = 0.1  # of the one-cycle schedule


def fine_tune_image_classifier(
    model: str,
    checkpoint: Path | None,
    train: ImageExamples,
    out_dir: Path,
    *,
    epochs: int = 2,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    image_size: int = 64,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Fine-tune timm `model` (timm:NAME) with a new head for train's labels; returns out_dir/model.safetensors.

    out_dir gets model.safetensors, timm's config.json (labels, input size, mean/std) and training.json
    (seconds, losses); it is replaced in one rename, so it holds a complete checkpoint or none.
    """
    import torch

    from edgeship.console import training_progress
    from edgeship.sources.timm_models import CONFIG_FILE, checkpoint_config, load_timm_model

    _check(train, epochs, batch_size)
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    architecture = model.removeprefix("timm:")
    loaded = load_timm_model(architecture, checkpoint=checkpoint, labels=None)
    assert loaded.image_preprocessing is not None
    mean, std = loaded.image_preprocessing.mean, loaded.image_preprocessing.std
    pixels = _load_pixels(train, image_size, mean, std)
    labels = torch.tensor(train.labels)

    torch.manual_seed(seed)
    network = loaded.model
    network.reset_classifier(len(train.label_names))
    optimizer = torch.optim.AdamW(network.parameters(), lr=learning_rate, weight_decay=WEIGHT_DECAY)
    total_steps = epochs * -(-len(train) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=learning_rate, total_steps=total_steps, pct_start=WARMUP_FRACTION
    )
    order = torch.Generator().manual_seed(seed)
    recent: deque[float] = deque(maxlen=LOSS_WINDOW)
    epoch_losses: list[float] = []
    started = time.perf_counter()
    network.train()
    with training_progress("fine-tuning", enabled=progress) as bar:
        task = bar.add_task("train", total=total_steps, loss="-")
        for _ in range(epochs):
            losses = []
            for batch in torch.randperm(len(train), generator=order).split(batch_size):
                loss = torch.nn.functional.cross_entropy(network(pixels[batch]), labels[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                losses.append(loss.item())
                recent.append(losses[-1])
                bar.update(task, advance=1, loss=f"{sum(recent) / len(recent):.4f}")
            epoch_losses.append(sum(losses) / len(losses))
    network.eval()
    seconds = time.perf_counter() - started

    config = {
        "architecture": architecture,
        "num_classes": len(train.label_names),
        "label_names": list(train.label_names),
        "pretrained_cfg": {
            "input_size": [3, image_size, image_size],
            "crop_pct": 1.0,
            "mean": list(mean),
            "std": list(std),
            "interpolation": "bilinear",
        },
    }
    model_args = checkpoint_config(Path(checkpoint)).get("model_args") if checkpoint else None
    if model_args:
        config["model_args"] = model_args  # a narrowed architecture stays narrowed
    record = {
        "seconds_training": seconds,
        "epochs": epochs,
        "steps": total_steps,
        "examples": len(train),
        "epoch_losses": epoch_losses,
        "final_loss": sum(recent) / len(recent),
        "base_model": model,
        "base_checkpoint": str(checkpoint) if checkpoint else None,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "image_size": image_size,
        "seed": seed,
    }
    _save(out_dir, network.state_dict(), {CONFIG_FILE: config, TRAINING_FILE: record})
    return out_dir / CHECKPOINT_FILE


def _check(train: ImageExamples, epochs: int, batch_size: int) -> None:
    """Raise DataError when there is nothing to train on or a label has no class."""
    if len(train) == 0:
        raise DataError(f"{train.name} has no examples", hint="pass a non-empty dataset")
    classes = len(train.label_names)
    if not 0 <= min(train.labels) <= max(train.labels) < classes:
        raise DataError(
            f"{train.name} has labels outside 0..{classes - 1}, its {classes} label names",
            hint="give every label a name in label_names",
        )
    if epochs < 1 or batch_size < 1:
        raise DataError(
            f"cannot fine-tune for {epochs} epochs in batches of {batch_size}", hint="use positive values"
        )


def _check_out_dir(out_dir: Path) -> None:
    """Refuse to replace a folder that is neither empty nor a checkpoint folder (an earlier fine-tune's)."""
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / CHECKPOINT_FILE).is_file():
        raise OutputError(
            f"'{out_dir}' exists and is not a fine-tuned checkpoint folder",
            hint="pass a new or empty folder; it is replaced as a whole",
        )


def _load_pixels(examples: ImageExamples, size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> Any:
    """Every image resized to size x size and normalised with mean/std, as one NCHW float tensor."""
    import numpy as np
    import torch

    from edgeship.manifest import ImagePreprocessing
    from edgeship.sources.preprocess import load_image

    preprocessing = ImagePreprocessing(
        size=(size, size),
        resize_shorter_to=size,
        mean=(mean[0], mean[1], mean[2]),
        std=(std[0], std[1], std[2]),
        interpolation="bilinear",
    )
    return torch.from_numpy(np.stack([load_image(path, preprocessing) for path in examples.paths]))


def _save(out_dir: Path, state: dict[str, Any], json_files: dict[str, dict[str, Any]]) -> None:
    """Write the weights and JSON files into a staging folder, then swap it in for out_dir."""
    from safetensors.torch import save_file

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    staging.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        save_file({name: value.contiguous() for name, value in state.items()}, str(staging / CHECKPOINT_FILE))
        for name, content in json_files.items():
            (staging / name).write_text(json.dumps(content, indent=2), encoding="utf-8")
        shutil.rmtree(out_dir, ignore_errors=True)
        os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
