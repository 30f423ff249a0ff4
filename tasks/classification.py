"""What every classification task shares: logits out, argmax agreement for parity, accuracy as metric."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from edgeship.manifest import Parity
from edgeship.tasks.base import Task

if TYPE_CHECKING:
    import torch


class ClassificationTask(Task):
    """One logit per label; the predicted label is the argmax."""

    metric = "accuracy"
    distillation_loss = "soft-target KL on the logits (temperature) + hard-label cross-entropy"
    postprocessing = "softmax over the logits; the label is the argmax"

    def parity(self, outputs: np.ndarray, reference: np.ndarray, tolerance: float) -> Parity:
        """Max abs logit difference and argmax agreement; the tolerance grows with the logits (see
        `scaled_tolerance`)."""
        return Parity(
            max_abs_diff=float(np.max(np.abs(outputs - reference))),
            argmax_agreement=float(np.mean(outputs.argmax(-1) == reference.argmax(-1))),
            samples=len(reference),
            tolerance=scaled_tolerance(tolerance, reference),
        )

    def parity_holds(self, parity: Parity) -> bool:
        """Within the tolerance, and the same label for every input."""
        return parity.max_abs_diff <= parity.tolerance and parity.argmax_agreement >= 1.0

    def score(self, outputs: np.ndarray, labels: np.ndarray) -> float:
        """Accuracy: the fraction of examples whose argmax is the label."""
        return float(np.mean(self.predictions(outputs) == labels))

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        """The predicted label index per example."""
        return outputs.argmax(-1)

    def graph_output(
        self, model_output: Any, inputs: dict[str, torch.Tensor], pooling: str | None
    ) -> torch.Tensor:
        """The logits: `.logits`, `["logits"]`, the first element or the tensor itself."""
        if hasattr(model_output, "logits"):
            return model_output.logits
        if isinstance(model_output, dict):
            return model_output["logits"]
        if isinstance(model_output, (tuple, list)):
            return model_output[0]
        return model_output


def scaled_tolerance(tolerance: float, reference: np.ndarray) -> float:
    """`tolerance` for logits up to 1 in size, times the largest reference logit beyond that.

    float32 rounding is relative: a trained ImageNet model's logits of 20 differ between PyTorch and a
    runtime by about 20 times what logits of 1 do.
    """
    return tolerance * max(1.0, float(np.max(np.abs(reference))))
