"""Parity: compare an artifact's outputs with the PyTorch fp32 reference on the same inputs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgeship.manifest import Parity
from edgeship.runtimes.base import Session
from edgeship.tasks.base import get_task

if TYPE_CHECKING:
    from edgeship.sources.loading import LoadedModel

LOGITS_KEY = "__logits__"
DYNAMIC_BATCH = 4


def reference_logits(
    loaded: LoadedModel, inputs: dict[str, np.ndarray], batch_size: int = DYNAMIC_BATCH
) -> np.ndarray:
    """PyTorch fp32 logits for every row of `inputs`."""
    import torch

    module = loaded.logits_module()
    rows = len(next(iter(inputs.values())))
    outputs = []
    with torch.inference_mode():
        for start in range(0, rows, batch_size):
            tensors = (
                torch.from_numpy(inputs[name][start : start + batch_size]) for name in loaded.input_names
            )
            outputs.append(module(*tensors).numpy())
    return np.concatenate(outputs)


def save_reference(path: Path, inputs: dict[str, np.ndarray], logits: np.ndarray) -> None:
    """Store parity inputs and reference logits together, so later steps compare against the same data."""
    np.savez_compressed(path, **inputs, **{LOGITS_KEY: logits})  # type: ignore[arg-type]


def load_reference(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The parity inputs and reference logits written by `save_reference`."""
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    return {k: v for k, v in arrays.items() if k != LOGITS_KEY}, arrays[LOGITS_KEY]


def run_rows(session: Session, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Run every row of `inputs` through `session` in batches it accepts; logits as float64."""
    rows = len(next(iter(inputs.values())))
    batch_size = session.fixed_batch or DYNAMIC_BATCH
    outputs = []
    for start in range(0, rows, batch_size):
        outputs.append(session.run({k: v[start : start + batch_size] for k, v in inputs.items()})[0])
    return np.concatenate(outputs).astype(np.float64)


def measure_parity(
    session: Session, inputs: dict[str, np.ndarray], reference: np.ndarray, tolerance: float, task: str
) -> Parity:
    """`session` against the reference outputs, by the task's parity criterion."""
    return get_task(task).parity(run_rows(session, inputs), reference, tolerance)
