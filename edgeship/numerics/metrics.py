"""Per-layer error of a variant against a reference: SNR, cosine, max and relative error, clipping."""

from __future__ import annotations

import numpy as np

from edgeship.manifest import JUMP_DB, SNR_CEILING_DB, LayerError

WORST_COUNT = 3
INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


def matching_view(candidate: np.ndarray, reference: np.ndarray) -> np.ndarray | None:
    """`candidate` in `reference`'s shape: as is, reshaped (same size), or channels-last turned to
    channels-first (LiteRT's NHWC convolutions); None when it cannot be the same tensor."""
    if candidate.shape == reference.shape:
        return candidate
    if candidate.size != reference.size:
        return None
    if candidate.ndim == reference.ndim == 4 and candidate.shape == tuple(
        reference.shape[i] for i in (0, 2, 3, 1)
    ):
        return candidate.transpose(0, 3, 1, 2)
    if [d for d in candidate.shape if d != 1] == [d for d in reference.shape if d != 1]:
        return candidate.reshape(reference.shape)
    return None


def layer_error(
    layer: str,
    tensor: str,
    output: np.ndarray,
    reference: np.ndarray,
    quantization: tuple[float, int, str] | None = None,
) -> LayerError:
    """The error of `output` against `reference` (same shape), with the clipping of a quantized tensor."""
    output, reference = output.astype(np.float64), reference.astype(np.float64)
    error = output - reference
    signal, noise = float(np.sum(reference**2)), float(np.sum(error**2))
    snr = SNR_CEILING_DB * 2 if noise == 0 else 10 * np.log10(max(signal, 1e-30) / noise)
    norms = float(np.linalg.norm(output) * np.linalg.norm(reference))
    record = LayerError(
        layer=layer,
        tensor=tensor,
        shape=list(reference.shape),
        snr_db=round(min(float(snr), SNR_CEILING_DB * 2), 2),
        cosine=float(np.sum(output * reference) / norms) if norms else 1.0,
        max_abs_error=float(np.max(np.abs(error))) if error.size else 0.0,
        relative_error=float(np.sqrt(noise) / max(np.sqrt(signal), 1e-30)),
    )
    if quantization is not None and quantization[2] in INT_RANGES:
        scale, zero_point, dtype = quantization
        low, high = ((bound - zero_point) * scale for bound in INT_RANGES[dtype])
        clipped = np.mean((reference < low - scale / 2) | (reference > high + scale / 2))
        record.scale, record.zero_point, record.clipped_fraction = scale, zero_point, float(clipped)
    return record


def snr_drops(layers: list[LayerError]) -> list[float]:
    """How much SNR each layer loses relative to the layer before it (the first: relative to the ceiling)."""
    capped = [min(layer.snr_db, SNR_CEILING_DB) for layer in layers]
    return [before - after for before, after in zip([SNR_CEILING_DB, *capped], capped, strict=False)]


def first_jump(layers: list[LayerError]) -> str | None:
    """The first layer (in depth order) that loses JUMP_DB or more: where the error starts to grow."""
    return next(
        (layer.layer for layer, drop in zip(layers, snr_drops(layers), strict=True) if drop >= JUMP_DB), None
    )


def worst_layers(layers: list[LayerError]) -> list[str]:
    """The layers that lose the most SNR (at least JUMP_DB / 2 each), worst first."""
    ranked = sorted(zip(snr_drops(layers), (layer.layer for layer in layers), strict=True), reverse=True)
    return [name for drop, name in ranked[:WORST_COUNT] if drop >= JUMP_DB / 2]
