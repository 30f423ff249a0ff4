"""Loss weights of a distillation run (kept free of torch so the CLI can list students without it)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

FeatureLoss = Literal["mse", "cosine"]


@dataclass(frozen=True)
class LossWeights:
    """Weights of each term; `transfer_fraction` > 0 trains intermediate layers alone for that share of steps.

    `embedding` weighs cosine + MSE between the student's and the teacher's sentence embeddings (what a
    feature-extraction student learns instead of soft and hard targets)."""

    soft: float = 0.5
    hard: float = 0.5
    embedding: float = 0.0
    hidden: float = 0.0
    attention: float = 0.0
    temperature: float = 2.0
    hidden_loss: FeatureLoss = "mse"
    transfer_fraction: float = 0.0

    def with_overrides(self, **values: float | str | None) -> LossWeights:
        """A copy with every value that is not None replaced."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]

    def for_embeddings(self) -> LossWeights:
        """These weights for a sentence-encoder teacher: its embeddings as the target, no labels."""
        return replace(self, soft=0.0, hard=0.0, embedding=1.0)
