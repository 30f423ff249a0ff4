"""A plain torch.nn.Module with a custom head (`module.py:factory`, or the object): export, parity, eval."""

from __future__ import annotations

import csv
import importlib.util
import json
import textwrap
from pathlib import Path

import pytest
import torch

from edgeship.errors import EdgeshipError
from edgeship.manifest import ImagePreprocessing
from edgeship.pipeline.export import export_model
from edgeship.sources.loading import load_model
from edgeship.sources.model_source import ModelSource
from tests.conftest import run_cli

MODULE_SOURCE = '''
"""A sentence encoder with attention-masked mean pooling and a linear head: no transformers *For* class."""

import torch
import transformers

HIDDEN = 32


class SentenceClassifier(torch.nn.Module):
    def __init__(self, labels=2):
        super().__init__()
        config = transformers.BertConfig(
            vocab_size=VOCAB_SIZE,
            hidden_size=HIDDEN,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
        )
        self.encoder = transformers.BertModel(config, add_pooling_layer=False)
        self.head = torch.nn.Linear(HIDDEN, labels)

    def forward(self, input_ids, attention_mask):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return self.head(pooled)


def build_model():
    torch.manual_seed(0)
    return SentenceClassifier()


def build_three_labels():
    return SentenceClassifier(labels=3)


def build_nothing():
    return {"not": "a module"}
'''


class NotATensor:
    """A custom class: a checkpoint that pickles it needs arbitrary code to load."""

    def __init__(self) -> None:
        self.note = "training state"


@pytest.fixture(scope="module")
def module_file(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    import transformers

    vocab_size = len(transformers.AutoTokenizer.from_pretrained(tokenizer_dir))
    path = tmp_path_factory.mktemp("torch-module") / "module.py"
    path.write_text(textwrap.dedent(MODULE_SOURCE).replace("VOCAB_SIZE", str(vocab_size)), encoding="utf-8")
    return path


def build(module_file: Path, factory: str = "build_model") -> torch.nn.Module:
    """Call a factory of the module file, as a user script that imports it would."""
    spec = importlib.util.spec_from_file_location("sentence_module", module_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, factory)()


@pytest.fixture(scope="module")
def weights(module_file: Path) -> Path:
    """The module's state_dict, saved with safetensors."""
    from safetensors.torch import save_file

    path = module_file.parent / "w.safetensors"
    save_file(build(module_file).state_dict(), str(path))
    return path


@pytest.fixture(scope="module")
def bundle(
    tmp_path_factory: pytest.TempPathFactory, module_file: Path, weights: Path, tokenizer_dir: Path
) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "sentence"
    result = run_cli(
        *export_args(module_file, tokenizer_dir, out), "--labels", "neg,pos", "--checkpoint", str(weights)
    )
    assert result.returncode == 0, result.stderr
    return out


def export_args(module_file: Path, tokenizer_dir: Path, out: Path) -> list[str]:
    spec = f"{module_file}:build_model"
    return [
        "export",
        spec,
        "--task",
        "text-classification",
        "--tokenizer",
        str(tokenizer_dir),
        "--out",
        str(out),
        "--max-length",
        "32",
    ]


@pytest.fixture()
def reviews_csv(tmp_path: Path, text_rows: list[dict[str, str]]) -> Path:
    """The shared reviews with the labels neg and pos."""
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows({"text": r["text"], "label": r["label"][:3]} for r in text_rows)
    return path


def test_cli_export_records_a_torch_source_with_parity_then_evaluates(
    bundle: Path, reviews_csv: Path
) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    source = manifest["source"]
    assert (source["model"], source["framework"], source["architecture"]) == (
        "module.py:build_model",
        "torch",
        "SentenceClassifier",
    )
    assert (source["task"], source["labels"]) == ("text-classification", ["neg", "pos"])
    assert [i["name"] for i in manifest["inputs"]] == ["input_ids", "attention_mask"]
    assert manifest["preprocessing"]["max_length"] == 32
    assert manifest["preprocessing"]["vocab_size"] == 30522
    [variant] = manifest["variants"]
    assert variant["parity"]["max_abs_diff"] <= variant["parity"]["tolerance"]
    assert variant["parity"]["argmax_agreement"] == 1.0
    assert (bundle / "tokenizer" / "tokenizer.json").is_file()

    result = run_cli("eval", str(bundle), "--data", str(reviews_csv))
    assert result.returncode == 0, result.stderr
    [variant] = json.loads((bundle / "manifest.json").read_text())["variants"]
    assert 0.0 <= variant["accuracy"] <= 1.0
    assert variant["evaluated_on"]["dataset"] == "reviews" and variant["evaluated_on"]["samples"] == 40


@pytest.mark.slow
def test_tflite_export_into_the_same_bundle_meets_parity(
    bundle: Path, module_file: Path, weights: Path, tokenizer_dir: Path
) -> None:
    pytest.importorskip("litert_torch")
    args = export_args(module_file, tokenizer_dir, bundle)
    result = run_cli(*args, "--labels", "neg,pos", "--checkpoint", str(weights), "--format", "tflite")
    assert result.returncode == 0, result.stderr
    variants = {v["id"]: v for v in json.loads((bundle / "manifest.json").read_text())["variants"]}
    tflite = variants["tflite-fp32"]
    assert tflite["parity"]["max_abs_diff"] <= tflite["parity"]["tolerance"]
    assert tflite["parity"]["argmax_agreement"] == 1.0


def test_export_model_takes_a_module_object(tmp_path: Path, module_file: Path, tokenizer_dir: Path) -> None:
    model = build(module_file)
    source = ModelSource(task="text-classification", tokenizer=tokenizer_dir, labels=["neg", "pos"])
    bundle, variant = export_model(model, tmp_path / "b", source=source)
    assert bundle.manifest.source.model == "torch:SentenceClassifier"
    assert bundle.manifest.source.framework == "torch"
    assert variant.parity is not None and variant.parity.argmax_agreement == 1.0


def test_labels_default_to_the_number_of_outputs(module_file: Path, tokenizer_dir: Path) -> None:
    loaded = load_model(
        f"{module_file}:build_three_labels", task="text-classification", tokenizer=tokenizer_dir
    )
    assert loaded.labels == ["LABEL_0", "LABEL_1", "LABEL_2"]
    assert loaded.input_names == ["input_ids", "attention_mask"]


def _image_classifier(channels: int) -> torch.nn.Sequential:
    """A patchifying conv, pooled, and a 5-label linear head: the smallest plain image classifier."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, channels, 8, stride=8),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(channels, 5),
    )


def test_an_image_module_exports_with_imagenet_preprocessing(tmp_path: Path) -> None:
    model = _image_classifier(4)
    bundle, variant = export_model(model, tmp_path / "b", source=ModelSource(task="image-classification"))
    manifest = bundle.manifest
    assert manifest.source.model == "torch:Sequential"
    assert manifest.source.labels == [f"LABEL_{i}" for i in range(5)]
    assert [spec.name for spec in manifest.inputs] == ["pixel_values"]
    assert manifest.preprocessing == ImagePreprocessing(
        size=(224, 224), resize_shorter_to=256, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
    )
    assert variant.parity is not None and variant.parity.argmax_agreement == 1.0


def test_parity_tolerance_grows_with_the_logits(tmp_path: Path) -> None:
    """A trained model's logits reach tens; float32 rounding grows with them, and so does the tolerance."""
    import numpy as np

    from edgeship.tasks.base import get_task

    model = _image_classifier(64)
    with torch.no_grad():
        model[3].weight.mul_(300.0)
    _, variant = export_model(model, tmp_path / "b", source=ModelSource(task="image-classification"))
    assert variant.parity is not None and variant.parity.tolerance > 10 * 1e-4
    assert variant.parity.max_abs_diff <= variant.parity.tolerance

    task = get_task("image-classification")
    small, large = np.array([[0.5, -0.25]]), np.array([[40.0, -10.0]])
    assert task.parity(small + 2e-4, small, 1e-4).tolerance == 1e-4
    assert not task.parity_holds(task.parity(small + 2e-4, small, 1e-4))
    assert task.parity_holds(task.parity(large + 2e-3, large, 1e-4))  # 40 x 1e-4
    assert not task.parity_holds(task.parity(large + 5e-3, large, 1e-4))


def _wrong_shapes(module_file: Path, folder: Path) -> Path:
    """Every key of the module, but a three-label head."""
    from safetensors.torch import save_file

    path = folder / "wrong.safetensors"
    save_file(build(module_file, "build_three_labels").state_dict(), str(path))
    return path


def _pickled_object(folder: Path) -> Path:
    path = folder / "trainer.pt"
    torch.save({"state_dict": {"head.bias": torch.zeros(2)}, "extra": NotATensor()}, str(path))
    return path


ERRORS = {
    "no-task": "cannot tell its task",
    "no-tokenizer": "is a text model with no tokenizer",
    "no-factory": "'module.py' has no function 'build_missing'",
    "not-a-module": "returned a dict, not a torch.nn.Module",
    "pickle": "is a pickle that torch.load(weights_only=True) refuses (it holds test_torch_module.NotATensor,",
    "wrong-shapes": "does not fit SentenceClassifier: 0 missing, 0 unexpected and 2 mis-shaped keys",
}


def error_case(case: str, module_file: Path, tokenizer_dir: Path, folder: Path) -> tuple[str, ModelSource]:
    """The spec and source of a broken export."""
    spec = f"{module_file}:build_model"
    fields: dict[str, object] = {"task": "text-classification", "tokenizer": tokenizer_dir}
    if case == "no-task":
        del fields["task"]
    elif case == "no-tokenizer":
        del fields["tokenizer"]
    elif case == "no-factory":
        spec = f"{module_file}:build_missing"
    elif case == "not-a-module":
        spec = f"{module_file}:build_nothing"
    elif case == "pickle":
        fields["checkpoint"] = _pickled_object(folder)
    elif case == "wrong-shapes":
        fields["checkpoint"] = _wrong_shapes(module_file, folder)
    return spec, ModelSource(**fields)


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_are_one_line_and_write_nothing(
    case: str, tmp_path: Path, module_file: Path, tokenizer_dir: Path
) -> None:
    spec, source = error_case(case, module_file, tokenizer_dir, tmp_path)
    out = tmp_path / "out"
    with pytest.raises(EdgeshipError) as raised:
        export_model(spec, out, source=source)
    line = raised.value.one_line()
    assert ERRORS[case] in line and "\n" not in line
    assert str(tmp_path) not in line or case in ("pickle", "wrong-shapes")  # only the checkpoint's path
    assert not out.exists()


@pytest.mark.parametrize("case", ["no-task", "pickle"])
def test_the_cli_prints_the_error_in_one_line(
    case: str, tmp_path: Path, module_file: Path, tokenizer_dir: Path
) -> None:
    spec, source = error_case(case, module_file, tokenizer_dir, tmp_path)
    out = tmp_path / "out"
    args = ["export", spec, "--out", str(out)]
    for field in ("task", "tokenizer", "checkpoint"):
        if getattr(source, field) is not None:
            args += [f"--{field}", str(getattr(source, field))]
    result = run_cli(*args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert ERRORS[case] in lines[0]
    assert not out.exists()
