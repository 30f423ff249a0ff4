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


BERT_LIKE = ArchConfig(ort_optimizer="bert")
VIT_LIKE = ArchConfig(ort_optimizer="vit")
SWIN_LIKE = ArchConfig(ort_optimizer="swin")
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
}


def arch_config(model_type: str) -> ArchConfig:
    """The export facts for an HF model_type or timm name (generic defaults when unknown)."""
    return ARCH_CONFIGS.get(model_type, GENERIC)
