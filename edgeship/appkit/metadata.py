"""metadata.json: everything app code needs to feed the artifact and read its answer."""

from __future__ import annotations

from typing import Any

from edgeship.appkit.artifacts import ArtifactKind
from edgeship.appkit.heads import KitHead
from edgeship.manifest import ImagePreprocessing, Manifest, TextPreprocessing, Variant
from edgeship.tasks.base import get_task

KIT_SCHEMA = "edgeship-app-kit/1"


def feed_shape(manifest: Manifest) -> list[int]:
    """The shape the app feeds each input: batch 1, text padded to max_length, images NCHW."""
    preprocessing = manifest.preprocessing
    if isinstance(preprocessing, TextPreprocessing):
        return [1, preprocessing.max_length]
    return [1, 3, *preprocessing.size]


def kit_metadata(
    manifest: Manifest,
    variant: Variant,
    kind: ArtifactKind,
    files: list[str],
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    tokenizer: dict[str, Any] | None,
    head: KitHead,
) -> dict[str, Any]:
    """The metadata dict; dynamic dimensions are resolved to the shape the app feeds (outputs: batch 1, and a
    per-token output's sequence max_length)."""
    shape = feed_shape(manifest)
    for spec in inputs:
        spec["shape"] = [
            given if given is not None else fed for given, fed in zip(spec["shape"], shape, strict=True)
        ]
    for spec in outputs:  # a per-token output's sequence axis is the fed sequence; batch is 1
        spec["shape"] = [
            given if given is not None else (shape[axis] if axis < len(shape) else 1)
            for axis, given in enumerate(spec["shape"])
        ]
    metadata = {
        "schema": KIT_SCHEMA,
        "model": {
            "file": files[0],
            "files": files,
            "format": kind.name,
            "runtime": kind.runtime,
            "variant": variant.id,
            "precision": variant.precision,
            "source": manifest.source.model,
            "architecture": manifest.source.architecture,
            "accuracy": variant.accuracy,
            "metric": get_task(manifest.source.task).metric,
        },
        "task": manifest.source.task,
        "inputs": inputs,
        "outputs": outputs,
        "labels": manifest.source.labels,
        "labels_file": "labels.txt",
        "preprocessing": {**_preprocessing(manifest, tokenizer), **head.preprocessing(manifest)},
        "postprocessing": head.postprocessing(manifest, outputs[0]),
    }
    if not head.labels_file:
        del metadata["labels_file"]
    return metadata


def _preprocessing(manifest: Manifest, tokenizer: dict[str, Any] | None) -> dict[str, Any]:
    preprocessing = manifest.preprocessing
    if isinstance(preprocessing, TextPreprocessing):
        assert tokenizer is not None
        return {"kind": "text", "max_length": preprocessing.max_length, **tokenizer}
    assert isinstance(preprocessing, ImagePreprocessing)
    return {
        "kind": "image",
        "image_size": list(preprocessing.size),
        "resize_shorter_to": preprocessing.resize_shorter_to,
        "interpolation": preprocessing.interpolation,
        "crop": "center",
        "color": "RGB",
        "scale": 1 / 255,
        "mean": list(preprocessing.mean),
        "std": list(preprocessing.std),
        "layout": "NCHW",
    }
