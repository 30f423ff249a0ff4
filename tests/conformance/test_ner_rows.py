"""The token-classification (NER) rows of the matrix: tags judged on the real tokens, BERT's ONNX cell,
`support --tasks`, and Longformer and BigBird at 4,096 tokens keeping their sparse attention (slow)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edgeship.conformance.cells import ONNX_FILE, run_cell
from edgeship.conformance.checks import compare, fp32_verdict, onnx_profile_shapes, quantized_verdict
from edgeship.conformance.families import FAMILIES, IOB2_TAGS, LONG_LENGTH, get_family
from edgeship.conformance.results import CellResult, MatrixRun, save_run
from edgeship.tasks.classification import scaled_tolerance
from tests.conftest import run_cli

NER_FAMILIES = [
    "bert-ner",
    "distilbert-ner",
    "xlm-roberta-ner",
    "deberta-v2-ner",
    "longformer-ner",
    "bigbird-ner",
]


def test_the_ner_rows_are_the_token_classification_families() -> None:
    assert [f.name for f in FAMILIES if f.task == "token-classification"] == NER_FAMILIES


def test_tags_are_judged_on_real_tokens_and_near_ties_are_named() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(2, 6, len(IOB2_TAGS)))
    scored = np.array([[True] * 6, [True] * 3 + [False] * 3])
    padding_flipped = reference.copy()
    padding_flipped[1, 3:] = -reference[1, 3:]  # padded positions' tags are never read
    metrics = compare([padding_flipped], [reference], "token-classification", scored)
    assert (metrics["argmax_agreement"], metrics["scored_tokens"]) == (1.0, 9.0)
    assert metrics["max_abs_diff"] > 1.0  # max|Δ| still spans every position
    assert quantized_verdict(metrics).reason.startswith("argmax agreement 1.0000 over 9 real tokens")

    near_tie = reference.copy()
    near_tie[0, 2] = [0.5, 0.5 + 1e-6, *([0.0] * (len(IOB2_TAGS) - 2))]
    flipped = near_tie.copy()
    flipped[0, 2, 0] += 2e-6
    metrics = compare([flipped], [near_tie], "token-classification", scored)
    assert metrics["argmax_agreement"] == pytest.approx(8 / 9)
    assert metrics["flipped_margin"] == pytest.approx(1e-6)
    verdict = fp32_verdict(metrics, 1e-4)
    assert verdict.status == "fail"
    assert "(1 differ, PyTorch's top two within 1.0e-06 there)" in verdict.reason
    unmasked = compare([padding_flipped], [reference], "text-classification")
    assert unmasked["argmax_agreement"] < 1.0 and "scored_tokens" not in unmasked


def test_bert_ner_exports_to_onnx_with_every_real_tag_equal(tmp_path: Path) -> None:
    subject = get_family("bert-ner").build(tmp_path)
    rows, length = subject.inputs["input_ids"].shape
    assert subject.reference[0].shape == (rows, length, len(IOB2_TAGS))
    assert subject.loaded is not None and subject.loaded.labels == list(IOB2_TAGS)
    outcome = run_cell("onnx", subject, tmp_path)
    assert outcome.status == "pass", outcome.reason
    assert outcome.metrics["max_abs_diff"] <= 1e-5 and outcome.metrics["argmax_agreement"] == 1.0
    assert outcome.metrics["scored_tokens"] == subject.inputs["attention_mask"].sum() < rows * length


def test_support_shows_the_ner_rows_by_task(tmp_path: Path) -> None:
    run = MatrixRun(
        versions={}, cell_timeout_s=1, families=["bert", "bert-ner", "bigbird-ner"], cells=["onnx"]
    )
    run.results = [
        CellResult(family="bert", cell="onnx", status="pass", reason="ok"),
        CellResult(family="bert-ner", cell="onnx", status="pass", reason="ok"),
        CellResult(family="bigbird-ner", cell="onnx", status="fail", reason="export error: boom"),
    ]
    save_run(run, tmp_path / "run.json")
    result = run_cli(
        "support", "--from", str(tmp_path / "run.json"), "--tasks", "token-classification", "--cells", "onnx"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("token-classification") == 2 and "1/2 (50%)" in result.stdout
    assert "│ classification" not in result.stdout


def _attention_types(model: object) -> set[str]:
    import torch

    assert isinstance(model, torch.nn.Module)
    return {str(module.attention_type) for module in model.modules() if hasattr(module, "attention_type")}


@pytest.mark.slow
@pytest.mark.parametrize("family", ["longformer-ner", "bigbird-ner"])
def test_long_taggers_keep_sparse_attention_at_4096_tokens(tmp_path: Path, family: str) -> None:
    """ONNX fp32 exports in well under a minute with no [heads, 4096, 4096] scores, int8 keeps 90% of the
    tags; TFLite gets a verdict (today litert-torch cannot convert either: the matrix says why)."""
    subject = get_family(family).build(tmp_path)
    assert subject.attention_length == LONG_LENGTH
    assert subject.reference[0].shape == (2, LONG_LENGTH, len(IOB2_TAGS))
    started = time.perf_counter()
    fp32 = run_cell("onnx", subject, tmp_path)
    assert time.perf_counter() - started < 60
    assert "sparse attention kept" in fp32.reason, fp32.reason
    tolerance = scaled_tolerance(subject.tolerance, np.asarray(fp32.metrics["largest_logit"]))
    assert fp32.metrics["max_abs_diff"] <= tolerance, fp32.reason
    # Random weights leave a few tags near-tied: a tag may flip only where PyTorch's top two are that close.
    assert fp32.status == "pass" or fp32.metrics["flipped_margin"] <= tolerance, fp32.reason
    shapes = onnx_profile_shapes(tmp_path / ONNX_FILE, subject, tmp_path)
    model = subject.loaded.model if subject.loaded is not None else None
    if family == "longformer-ner":  # sliding-window scores: each token against 128 tokens each side
        assert [1, LONG_LENGTH, 4, 2 * 128 + 1] in shapes  # attention_window 256
    else:  # the reference forward and the trace both ran at 4096: neither switched BigBird to full
        assert _attention_types(model) == {"block_sparse"}

    int8 = run_cell("onnx-int8", subject, tmp_path)
    assert int8.status == "pass", int8.reason
    assert int8.metrics["argmax_agreement"] >= 0.9 and int8.metrics["quantized_ops"] > 0
    tflite = run_cell("tflite", subject, tmp_path)
    if tflite.status == "pass":
        assert "sparse attention kept" in tflite.reason
    else:
        assert tflite.reason.startswith("export error: litert-torch could not convert"), tflite.reason

    if family == "bigbird-ner":  # the check above can see a fall-back: a short input makes one
        import torch

        with torch.inference_mode():
            subject.module(
                *(torch.from_numpy(subject.inputs[name][:1, :128]) for name in subject.input_names)
            )
        assert _attention_types(model) == {"original_full"}
