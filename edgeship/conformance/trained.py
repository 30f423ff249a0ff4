"""A short fine-tune of a random-weight image classifier on a learnable synthetic task.

Random weights give near-flat logits: the top two classes of a row differ by less than int8 rounding
moves them, so a quantized cell judged on them measures ties, not quantization. A few dozen steps on
a task with real structure (a held-out accuracy of about 0.9) give the logits the spread margins of
a trained model, near-ties included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edgeship.sources.loading import LoadedModel

if TYPE_CHECKING:
    import torch

STEPS = 48
BATCH = 16
LEARNING_RATE = 3e-3
PATTERN_SIZE = 4
"""Each class is a coarse PATTERN_SIZE x PATTERN_SIZE colour pattern, upsampled to the input size."""
NOISE = 1.5
CLASS_SEED = 1234
CALIBRATION_ROWS = 256


def synthetic_images(
    classes: int, rows: int, size: tuple[int, int], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """`rows` normalised NCHW images with labels: class patterns plus pixel noise, classes in turn."""
    import torch

    patterns = np.random.default_rng(CLASS_SEED).standard_normal((classes, 3, PATTERN_SIZE, PATTERN_SIZE))
    upsampled = torch.nn.functional.interpolate(
        torch.from_numpy(patterns.astype(np.float32)), size=size, mode="bilinear", align_corners=False
    ).numpy()
    rng = np.random.default_rng(seed)
    labels = np.arange(rows) % classes
    noise = rng.standard_normal((rows, 3, *size)).astype(np.float32)
    return (upsampled[labels] + NOISE * noise).astype(np.float32), labels


def fine_tune(loaded: LoadedModel, classes: int) -> None:
    """Train `loaded`'s model in place for STEPS steps on synthetic images."""
    import torch

    assert loaded.image_preprocessing is not None
    size = loaded.image_preprocessing.size
    images, labels = synthetic_images(classes, STEPS * BATCH, size, seed=0)
    module = loaded.logits_module()
    module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE)
    for step in range(STEPS):
        rows = slice(step * BATCH, (step + 1) * BATCH)
        logits = module(torch.from_numpy(images[rows]))
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels[rows]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    _recalibrate_batch_norm(module, images)
    module.eval()
    loaded.model.eval()


def _recalibrate_batch_norm(module: torch.nn.Module, images: np.ndarray) -> None:
    """Running statistics recomputed as plain averages under the final weights.

    After a few large steps the momentum-averaged statistics still describe the first weights, and
    the model in eval mode predicts one class for every image.
    """
    import torch

    norms = [layer for layer in module.modules() if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm)]
    for layer in norms:
        layer.reset_running_stats()
        layer.momentum = None
    with torch.no_grad():
        for start in range(0, min(len(images), CALIBRATION_ROWS), BATCH):
            module(torch.from_numpy(images[start : start + BATCH]))
