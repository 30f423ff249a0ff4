"""image-classification: normalised RGB pixels in, one logit per label out."""

from __future__ import annotations

import numpy as np

from edgeship.tasks.base import LoadedModel, register_task
from edgeship.tasks.classification import ClassificationTask


@register_task
class ImageClassification(ClassificationTask):
    """An image classifier over resized, centre-cropped, normalised NCHW float32 pixels."""

    id = "image-classification"
    modality = "image"
    summary = "a label for an image"
    hf_head = "ForImageClassification"
    data_formats = ("an image folder DIR/<label>/<image>", "a bundled dataset name (fashion_mnist)")

    def sample_inputs(
        self, loaded: LoadedModel, samples: int, max_length: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """Standard-normal pixels at the model's input size (what normalised images look like)."""
        assert loaded.image_preprocessing is not None
        height, width = loaded.image_preprocessing.size
        return {"pixel_values": rng.standard_normal((samples, 3, height, width)).astype(np.float32)}
