"""Parity: compare an artifact's outputs with the PyTorch reference on the same inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edgeship.manifest import Parity
from edgeship.runtimes.base import Session

if TYPE_CHECKING:
    from edgeship.compress.sources import LoadedModel


def reference_logits(loaded: LoadedModel, batches: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    """PyTorch fp32 logits for each batch."""
    import torch

    module = loaded.logits_module()
    with torch.inference_mode():
        return [
            module(*(torch.from_numpy(batch[name]) for name in loaded.input_names)).numpy()
            for batch in batches
        ]


def measure_parity(
    session: Session,
    batches: list[dict[str, np.ndarray]],
    references: list[np.ndarray],
    tolerance: float,
) -> Parity:
    """Max abs diff and argmax agreement of `session` against the reference logits."""
    max_diff, agree, total = 0.0, 0, 0
    for batch, reference in zip(batches, references, strict=True):
        logits = session.run(batch)[0]
        max_diff = max(max_diff, float(np.max(np.abs(logits.astype(np.float64) - reference))))
        agree += int(np.sum(logits.argmax(-1) == reference.argmax(-1)))
        total += reference.shape[0]
    return Parity(max_abs_diff=max_diff, argmax_agreement=agree / total, samples=total, tolerance=tolerance)
