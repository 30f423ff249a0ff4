"""Loss weights of a distillation run (kept free of torch so the CLI can list students without it)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

FeatureLoss = Literal["mse", "cosine"]


@dataclass(frozen=True)
class LossWeights:
    """Weights of each term; `transfer_fraction` > 0 trains intermediate layers alone for that share of steps."""

    soft: float = 0.5
    hard: float = 0.5
    hidden: float = 0.0
    attention: float = 0.0
    temperature: float = 2.0
    hidden_loss: FeatureLoss = "mse"
    transfer_fraction: float = 0.0

    def with_overrides(self, **values: float | str | None) -> LossWeights:
        """A copy with every value that is not None replaced."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]
