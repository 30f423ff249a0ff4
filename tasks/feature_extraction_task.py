"""feature-extraction: token ids in, one L2-normalised sentence embedding out (semantic search, dedup).

The pooling (mean over the real tokens, or the CLS token) and the normalisation are inside the exported
graph, so every runtime and kit gets the vector a sentence-transformers model gives, with nothing to redo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from edgeship.errors import DataError
from edgeship.manifest import Parity
from edgeship.tasks.base import LoadedModel, register_task
from edgeship.tasks.base import Task as TaskDescriptor
from edgeship.tasks.text_inputs import token_rows

if TYPE_CHECKING:
    import torch

NEIGHBOURS = 10
"""How many nearest neighbours `agreement` compares (the issue's top-10 overlap)."""
MIN_PARITY_COSINE = 0.9999
"""The smallest cosine to PyTorch's embedding an fp32 artifact may have on any parity input."""


@register_task
class FeatureExtraction(TaskDescriptor):
    """A sentence encoder: mean- or CLS-pooled last hidden state, L2-normalised, inside the graph."""

    id = "feature-extraction"
    modality = "text"
    summary = "a unit-length embedding for a text (cosine similarity = dot product)"
    hf_head = "Model"
    data_formats = (
        "CSV or JSONL with text1, text2 and score columns (human similarity of the pair)",
        "a bundled dataset name (lee: 50 news documents, 1,225 scored pairs)",
    )
    metric = "spearman"
    metric_in_percent = False
    distillation_loss = "cosine + MSE between student and teacher sentence embeddings"
    postprocessing = "none: the vector is the output; compare two with a dot product"
    output_name = "sentence_embedding"
    data_kind = "scored-pairs"

    def sample_inputs(
        self, loaded: LoadedModel, samples: int, max_length: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """Rows of `max_length` tokens with different real lengths, so the pooling mask is exercised."""
        return token_rows(loaded, samples, max_length, rng)

    def graph_output(
        self, model_output: Any, inputs: dict[str, torch.Tensor], pooling: str | None
    ) -> torch.Tensor:
        """Pool the last hidden state over the attention mask (or take CLS) and L2-normalise it."""
        import torch

        hidden = (
            model_output[0] if isinstance(model_output, (tuple, list)) else model_output.last_hidden_state
        )
        if pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2.0, dim=-1)

    def parity(self, outputs: np.ndarray, reference: np.ndarray, tolerance: float) -> Parity:
        """Max abs difference, the smallest cosine to the reference and the top-10 neighbour overlap."""
        return Parity(
            max_abs_diff=float(np.max(np.abs(outputs - reference))),
            argmax_agreement=self.agreement(outputs, reference),
            cosine=float(np.min(row_cosines(outputs, reference))),
            samples=len(reference),
            tolerance=tolerance,
        )

    def parity_holds(self, parity: Parity) -> bool:
        """Within the tolerance, and every embedding pointing the same way as PyTorch's."""
        return parity.max_abs_diff <= parity.tolerance and (parity.cosine or 0.0) >= MIN_PARITY_COSINE

    def score(self, outputs: np.ndarray, labels: np.ndarray) -> float:
        """Spearman correlation between the pairs' cosine similarities and their human scores.

        `labels` holds one row per scored pair: (index of text 1, index of text 2, score)."""
        if len(labels) < 2:
            raise DataError(
                f"{len(labels)} scored pairs: too few to correlate with the embeddings' similarities",
                hint="evaluate on scored text pairs, e.g. the bundled dataset lee",
            )
        first, second = labels[:, 0].astype(int), labels[:, 1].astype(int)
        similarity = np.sum(unit(outputs[first]) * unit(outputs[second]), axis=-1)
        return spearman(similarity, labels[:, 2])

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        """Each text's nearest neighbours among the others (most similar first), by cosine."""
        vectors = unit(outputs)
        similarity = vectors @ vectors.T
        np.fill_diagonal(similarity, -np.inf)
        count = min(NEIGHBOURS, len(outputs) - 1)
        return np.argsort(-similarity, axis=1, kind="stable")[:, :count]

    def agreement(self, outputs: np.ndarray, reference: np.ndarray) -> float:
        """Mean overlap of each text's top-10 neighbours under `outputs` and under `reference` (1.0: same)."""
        if len(outputs) < 2:
            return float(np.min(row_cosines(outputs, reference)) >= MIN_PARITY_COSINE)
        ours, theirs = self.predictions(outputs), self.predictions(reference)
        overlaps = [len(set(a) & set(b)) / len(b) for a, b in zip(ours, theirs, strict=True)]
        return float(np.mean(overlaps))


def unit(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def row_cosines(outputs: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The cosine between each row of `outputs` and the same row of `reference`."""
    return np.sum(unit(outputs.astype(np.float64)) * unit(reference.astype(np.float64)), axis=-1)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (ties share their average rank), as scipy.stats.spearmanr gives it."""
    return float(np.corrcoef(average_ranks(x), average_ranks(y))[0, 1])


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of `values`, tied values all getting the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]
