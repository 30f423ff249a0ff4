"""Parameter counts and estimated multiply-accumulates (MACs) of one forward pass."""

from __future__ import annotations

from typing import Any


def count_parameters(model: Any) -> int:
    """Every parameter of `model` (tied weights once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def estimate_macs(
    model: Any, modality: str, *, sequence_length: int = 128, image_size: tuple[int, int] = (224, 224)
) -> int:
    """MACs of one batch-1 forward pass (matmuls, convolutions, attention), counted by torch's FlopCounterMode."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    if modality == "text":
        inputs = {
            "input_ids": torch.ones(1, sequence_length, dtype=torch.long, device=device),
            "attention_mask": torch.ones(1, sequence_length, dtype=torch.long, device=device),
        }
    else:
        inputs = {"x": torch.zeros(1, 3, *image_size, device=device)}
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(**inputs) if modality == "text" else model(inputs["x"])
    model.train(was_training)
    return counter.get_total_flops() // 2
