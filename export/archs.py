"""Per-architecture export facts as data: graph optimizer, parity tolerance, opset."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArchConfig:
    """What differs between architectures when exporting; behaviour lives in the exporters."""

    ort_optimizer: str | None = None
    """model_type for onnxruntime.transformers.optimizer, or None where it has no fusions."""
    tolerance: float = 1e-4
    """Max abs diff of the fp32 logits against PyTorch."""
    opset: int = 17
    static_sequence: bool = False
    """Trace at the full max_length and keep the sequence axis fixed: the model does shape arithmetic in
    Python (Funnel's pooling, Longformer's window padding, BigBird's switch to full attention for short
    inputs, Mamba's and RWKV's scans unrolled per token), so a graph traced at another length is wrong."""
    static_batch: bool = False
    """Trace one row and keep batch 1 fixed: the graph indexes by the traced batch (Longformer's global
    attention gathers), so another batch size reads out of bounds."""


BERT_LIKE = ArchConfig(ort_optimizer="bert")
VIT_LIKE = ArchConfig(ort_optimizer="vit")
SWIN_LIKE = ArchConfig(ort_optimizer="swin")
STATIC_SEQUENCE = ArchConfig(static_sequence=True)
STATIC_SHAPES = ArchConfig(static_sequence=True, static_batch=True)
GENERIC = ArchConfig()

ARCH_CONFIGS: dict[str, ArchConfig] = {
    "bert": BERT_LIKE,
    "distilbert": BERT_LIKE,
    "roberta": BERT_LIKE,
    "xlm-roberta": BERT_LIKE,
    "electra": BERT_LIKE,
    "vit": VIT_LIKE,
    "deit": VIT_LIKE,
    "swin": SWIN_LIKE,
    "funnel": STATIC_SEQUENCE,
    "longformer": STATIC_SHAPES,
    "big_bird": STATIC_SEQUENCE,
    "mamba": STATIC_SEQUENCE,
    "rwkv": STATIC_SEQUENCE,
}


def arch_config(model_type: str) -> ArchConfig:
    """The export facts for an HF model_type or timm name (generic defaults when unknown)."""
    return ARCH_CONFIGS.get(model_type, GENERIC)
