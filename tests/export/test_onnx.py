"""ONNX export through the CLI: parity, fusions, dynamic axes and the manifest it writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edgeship.bundle import Bundle, sha256_of
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def bert_bundle(tmp_path_factory: pytest.TempPathFactory, bert_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "bert"
    result = run_cli("export", str(bert_dir), "--format", "onnx", "--out", str(out), "--max-length", "32")
    assert result.returncode == 0, result.stderr
    return out


def test_bert_export_meets_parity_and_records_the_manifest(bert_bundle: Path, bert_dir: Path) -> None:
    manifest = json.loads((bert_bundle / "manifest.json").read_text())
    assert manifest["schema_version"] == 1
    assert manifest["source"]["model"] == str(bert_dir)
    assert manifest["source"]["task"] == "text-classification"
    assert manifest["source"]["labels"] == ["negative", "neutral", "positive"]
    assert [(i["name"], i["dtype"], i["shape"]) for i in manifest["inputs"]] == [
        ("input_ids", "int64", ["batch", "sequence"]),
        ("token_type_ids", "int64", ["batch", "sequence"]),
        ("attention_mask", "int64", ["batch", "sequence"]),
    ]
    assert manifest["preprocessing"] == {
        "kind": "text",
        "tokenizer": "tokenizer",
        "max_length": 32,
        "vocab_size": 30522,
    }
    [variant] = manifest["variants"]
    assert (variant["id"], variant["format"], variant["precision"]) == ("onnx-fp32", "onnx", "fp32")
    model_file = bert_bundle / variant["file"]
    assert variant["bytes"] == model_file.stat().st_size
    assert variant["sha256"] == sha256_of(model_file)
    assert variant["parity"]["max_abs_diff"] <= 1e-4
    assert variant["parity"]["argmax_agreement"] == 1.0
    assert variant["parity"]["samples"] == 16
    assert variant["graph"]["opset"] == 17
    assert (bert_bundle / "labels.txt").read_text().split() == ["negative", "neutral", "positive"]
    assert (bert_bundle / "tokenizer" / "tokenizer.json").is_file()
    assert not list(bert_bundle.glob(".staging-*"))


def test_bert_graph_is_fused_by_the_onnxruntime_optimizer(bert_bundle: Path) -> None:
    graph = Bundle.open(bert_bundle).manifest.variants[0].graph
    assert graph is not None and graph.optimizer == "onnxruntime.transformers:bert"
    # two encoder layers: one Attention and two SkipLayerNorm each, one BiasGelu each, fused embeddings
    assert graph.fused_ops == {
        "Attention": 2,
        "SkipLayerNormalization": 4,
        "BiasGelu": 2,
        "EmbedLayerNormalization": 1,
    }


def test_dynamic_batch_and_sequence_axes_run_in_onnxruntime(bert_bundle: Path) -> None:
    session = ort.InferenceSession(str(bert_bundle / "models" / "onnx-fp32.onnx"))
    for batch, sequence in [(1, 5), (3, 17), (2, 32)]:
        feeds = {
            "input_ids": np.full((batch, sequence), 1037, dtype=np.int64),
            "token_type_ids": np.zeros((batch, sequence), dtype=np.int64),
            "attention_mask": np.ones((batch, sequence), dtype=np.int64),
        }
        (logits,) = session.run(None, feeds)
        assert logits.shape == (batch, 3)


def test_exporting_again_replaces_the_variant_instead_of_duplicating_it(
    bert_bundle: Path, bert_dir: Path
) -> None:
    result = run_cli(
        "export", str(bert_dir), "--out", str(bert_bundle), "--max-length", "32", "--no-optimize"
    )
    assert result.returncode == 0, result.stderr
    manifest = Bundle.open(bert_bundle).manifest
    assert [v.id for v in manifest.variants] == ["onnx-fp32"]
    assert manifest.variants[0].graph.optimizer is None
    assert manifest.variants[0].graph.fused_ops.get("Attention") is None


def test_distilbert_export(tmp_path: Path, distilbert_dir: Path) -> None:
    out = tmp_path / "distilbert"
    result = run_cli("export", str(distilbert_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    manifest = Bundle.open(out).manifest
    assert [i.name for i in manifest.inputs] == ["input_ids", "attention_mask"]
    variant = manifest.variants[0]
    assert variant.parity.max_abs_diff <= 1e-4 and variant.parity.argmax_agreement == 1.0
    assert variant.graph.fused_ops["Attention"] == 2
    assert "onnx-fp32" in result.stdout


def test_vit_export(tmp_path: Path, vit_dir: Path) -> None:
    out = tmp_path / "vit"
    result = run_cli("export", str(vit_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    manifest = Bundle.open(out).manifest
    assert manifest.source.task == "image-classification"
    assert [(i.name, i.shape) for i in manifest.inputs] == [("pixel_values", ["batch", 3, 32, 32])]
    assert manifest.preprocessing.kind == "image" and manifest.preprocessing.size == (32, 32)
    parity = manifest.variants[0].parity
    assert parity.max_abs_diff <= 1e-4 and parity.argmax_agreement == 1.0


def test_timm_efficientformer_export_from_a_safetensors_checkpoint(
    tmp_path: Path, efficientformer_checkpoint: Path
) -> None:
    out = tmp_path / "effv2"
    result = run_cli(
        "export",
        "timm:efficientformerv2_s0",
        "--checkpoint",
        str(efficientformer_checkpoint),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    manifest = Bundle.open(out).manifest
    assert manifest.source.framework == "timm"
    assert manifest.source.labels == [f"class_{i}" for i in range(5)]
    assert manifest.preprocessing.size == (224, 224)
    assert manifest.preprocessing.mean == (0.485, 0.456, 0.406)
    parity = manifest.variants[0].parity
    assert parity.max_abs_diff <= 1e-4 and parity.argmax_agreement == 1.0
