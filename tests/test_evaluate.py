"""`edgeship eval`: accuracy per variant on CSV, JSONL and image folders, equal to PyTorch's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edgeship.bundle import Bundle
from edgeship.sources.data import load_labelled
from edgeship.sources.preprocess import load_image
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def bert_bundle(tmp_path_factory: pytest.TempPathFactory, bert_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("eval") / "bert"
    assert run_cli("export", str(bert_dir), "--out", str(out), "--max-length", "48").returncode == 0
    return out


def pytorch_text_accuracy(model_dir: Path, texts: list[str], labels: list[int], max_length: int) -> float:
    import transformers

    model = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    with torch.inference_mode():
        encoded = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        predictions = model(**encoded).logits.argmax(-1).numpy()
    return float(np.mean(predictions == np.asarray(labels)))


def test_eval_on_csv_matches_pytorch(bert_bundle: Path, bert_dir: Path, text_csv: Path) -> None:
    result = run_cli("eval", str(bert_bundle), "--data", str(text_csv), "--split", "test")
    assert result.returncode == 0, result.stderr
    variant = Bundle.open(bert_bundle).manifest.variants[0]
    examples = load_labelled(text_csv, ["negative", "neutral", "positive"])
    expected = pytorch_text_accuracy(bert_dir, examples.texts, examples.labels, 48)
    assert variant.accuracy == pytest.approx(expected, abs=1e-9)
    assert variant.evaluated_on.model_dump() == {
        "dataset": "reviews",
        "split": "test",
        "samples": 40,
        "metric": "accuracy",
    }


def test_eval_on_jsonl_with_integer_labels(bert_bundle: Path, text_csv: Path, text_jsonl: Path) -> None:
    assert run_cli("eval", str(bert_bundle), "--data", str(text_csv)).returncode == 0
    from_csv = Bundle.open(bert_bundle).manifest.variants[0].accuracy
    assert run_cli("eval", str(bert_bundle), "--data", str(text_jsonl)).returncode == 0
    variant = Bundle.open(bert_bundle).manifest.variants[0]
    assert variant.accuracy == from_csv
    assert variant.evaluated_on.dataset == "reviews" and variant.evaluated_on.samples == 40


def test_eval_on_an_image_folder_matches_pytorch(tmp_path: Path, vit_dir: Path, image_folder: Path) -> None:
    import transformers

    out = tmp_path / "vit"
    assert run_cli("export", str(vit_dir), "--out", str(out)).returncode == 0
    result = run_cli("eval", str(out), "--data", str(image_folder), "--batch-size", "5")
    assert result.returncode == 0, result.stderr
    manifest = Bundle.open(out).manifest
    examples = load_labelled(image_folder, manifest.source.labels)
    pixels = torch.from_numpy(np.stack([load_image(p, manifest.preprocessing) for p in examples.paths]))
    model = transformers.AutoModelForImageClassification.from_pretrained(vit_dir).eval()
    with torch.inference_mode():
        predictions = model(pixel_values=pixels).logits.argmax(-1).numpy()
    expected = float(np.mean(predictions == np.asarray(examples.labels)))
    assert manifest.variants[0].accuracy == pytest.approx(expected, abs=1e-9)
    assert manifest.variants[0].evaluated_on.samples == 12


def test_labels_the_model_does_not_know_are_named(bert_bundle: Path, tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("text,label\nfine film,fresh\n")
    result = run_cli("eval", str(bert_bundle), "--data", str(data))
    assert result.returncode == 1
    assert "label 'fresh'" in result.stderr and "negative" in result.stderr


def test_missing_columns_and_wrong_modality_are_named(
    bert_bundle: Path, tmp_path: Path, image_folder: Path
) -> None:
    data = tmp_path / "cols.csv"
    data.write_text("body,score\nfine film,1\n")
    result = run_cli("eval", str(bert_bundle), "--data", str(data))
    assert result.returncode == 1 and "need a text column" in result.stderr
    result = run_cli("eval", str(bert_bundle), "--data", str(image_folder))
    assert result.returncode == 1 and "is a text model" in result.stderr
