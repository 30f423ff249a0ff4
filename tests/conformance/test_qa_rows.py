"""The question-answering rows of the matrix: start and end tokens judged over each row's real tokens,
BERT's ONNX cell, `support --tasks`, and Longformer and BigBird at 4,096 tokens keeping their sparse
attention (slow)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edgeship.conformance.cells import ONNX_FILE, run_cell
from edgeship.conformance.checks import compare, fp32_verdict, onnx_profile_shapes, quantized_verdict
from edgeship.conformance.families import FAMILIES, LONG_LENGTH, get_family
from edgeship.conformance.results import CellResult, MatrixRun, save_run
from edgeship.conformance.subjects import SPECIAL_TOKENS
from tests.conftest import run_cli

QA_FAMILIES = [
    "bert-qa",
    "distilbert-qa",
    "xlm-roberta-qa",
    "deberta-v2-qa",
    "longformer-qa",
    "bigbird-qa",
]
QA = "question-answering"


def test_the_qa_rows_are_the_question_answering_families() -> None:
    assert [f.name for f in FAMILIES if f.task == QA] == QA_FAMILIES


def _spans(rows: int, tokens: int) -> np.ndarray:
    """Random span logits [rows, tokens, 2] whose start and end tokens stand out by at least 1."""
    logits = np.random.default_rng(0).uniform(-1.0, 0.0, size=(rows, tokens, 2))
    logits[:, 1, 0] = logits[:, 2, 1] = 2.0  # every row: start at token 1, end at token 2
    return logits


def test_starts_and_ends_are_judged_over_real_tokens_and_near_ties_are_named() -> None:
    reference = _spans(4, 8)
    scored = np.array([[True] * 8, [True] * 5 + [False] * 3, [True] * 6 + [False] * 2, [True] * 8])
    padding_flipped = reference.copy()
    padding_flipped[1, 5:] = 9.0  # a padded position is never an answer: its logits are not read
    metrics = compare([padding_flipped], [reference], QA, scored)
    assert (metrics["argmax_agreement"], metrics["span_rows"], metrics["scored_tokens"]) == (1.0, 4.0, 27.0)
    assert metrics["max_abs_diff"] > 9.0  # max|Δ| still spans every position
    assert quantized_verdict(metrics).reason.startswith("start/end agreement 1.0000 over 4 rows (27 real")
    unmasked = compare([padding_flipped], [reference], QA)
    assert unmasked["argmax_agreement"] == 0.75 and unmasked["start_flips"] == unmasked["end_flips"] == 1

    start_flipped = reference.copy()
    start_flipped[3, 4, 0] = 3.0  # row 3 now starts at token 4: that row disagrees
    metrics = compare([start_flipped], [reference], QA, scored)
    assert metrics["argmax_agreement"] == 0.75
    assert (metrics["start_flips"], metrics["end_flips"]) == (1.0, 0.0)
    assert quantized_verdict(metrics).status == "fail"  # 3 of 4 rows < 90%

    near_tie = reference.copy()
    near_tie[0, 6, 1] = 2.0 - 1e-6  # PyTorch's end of row 0 wins by 1e-6
    flipped = near_tie.copy()
    flipped[0, 6, 1] += 2e-6
    metrics = compare([flipped], [near_tie], QA, scored)
    assert metrics["argmax_agreement"] == 0.75 and metrics["end_flips"] == 1.0
    assert metrics["flipped_margin"] == pytest.approx(1e-6)
    verdict = fp32_verdict(metrics, 1e-4)
    assert verdict.status == "fail"
    assert "(starts differ in 0 rows, ends in 1; PyTorch's top two within 1.0e-06 there)" in verdict.reason
    # Judged as a tagger, the same outputs would compare start with end at every token.
    assert "span_rows" not in compare([flipped], [near_tie], "token-classification", scored)


def test_bert_qa_exports_to_onnx_with_every_real_start_and_end_equal(tmp_path: Path) -> None:
    subject = get_family("bert-qa").build(tmp_path)
    rows, length = subject.inputs["input_ids"].shape
    assert subject.reference[0].shape == (rows, length, 2) and subject.output_names == ["span_logits"]
    assert subject.inputs["token_type_ids"].any()  # [CLS] question [SEP] (type 0), context [SEP] (type 1)
    outcome = run_cell("onnx", subject, tmp_path)
    assert outcome.status == "pass", outcome.reason
    assert outcome.metrics["max_abs_diff"] <= 1e-5 and outcome.metrics["argmax_agreement"] == 1.0
    assert outcome.metrics["start_flips"] == outcome.metrics["end_flips"] == 0
    assert outcome.metrics["scored_tokens"] == subject.inputs["attention_mask"].sum() < rows * length


def test_support_shows_the_qa_rows_by_task(tmp_path: Path) -> None:
    run = MatrixRun(
        versions={}, cell_timeout_s=1, families=["bert-ner", "bert-qa", "bigbird-qa"], cells=["onnx"]
    )
    run.results = [
        CellResult(family="bert-ner", cell="onnx", status="pass", reason="ok"),
        CellResult(family="bert-qa", cell="onnx", status="pass", reason="ok"),
        CellResult(family="bigbird-qa", cell="onnx", status="fail", reason="export error: boom"),
    ]
    save_run(run, tmp_path / "run.json")
    result = run_cli("support", "--from", str(tmp_path / "run.json"), "--tasks", QA, "--cells", "onnx")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(QA) == 2 and "1/2 (50%)" in result.stdout
    assert "token-classification" not in result.stdout


def _attention_types(model: object) -> set[str]:
    import torch

    assert isinstance(model, torch.nn.Module)
    return {str(module.attention_type) for module in model.modules() if hasattr(module, "attention_type")}


@pytest.mark.slow
@pytest.mark.parametrize("family", ["longformer-qa", "bigbird-qa"])
def test_long_readers_keep_sparse_attention_at_4096_tokens(tmp_path: Path, family: str) -> None:
    """ONNX fp32 exports in well under a minute with no [heads, 4096, 4096] scores and every start and end
    equal; int8 keeps them (Longformer: today the int8 preparation breaks its graph, as the matrix says);
    TFLite gets a verdict (today litert-torch cannot convert either)."""
    subject = get_family(family).build(tmp_path)
    assert subject.attention_length == LONG_LENGTH
    assert subject.reference[0].shape == (2, LONG_LENGTH, 2)
    started = time.perf_counter()
    fp32 = run_cell("onnx", subject, tmp_path)
    assert time.perf_counter() - started < 60
    assert fp32.status == "pass", fp32.reason
    assert "sparse attention kept" in fp32.reason
    model = subject.loaded.model if subject.loaded is not None else None
    if family == "longformer-qa":  # global attention on the question, sliding windows elsewhere
        separators = subject.inputs["input_ids"] == SPECIAL_TOKENS.index("[SEP]")
        assert np.all(separators.sum(axis=1) == 3)  # <s> q </s></s> c </s>: what its QA head counts
        shapes = onnx_profile_shapes(tmp_path / ONNX_FILE, subject, tmp_path)
        assert [1, LONG_LENGTH, 4, 2 * 128 + 1] in shapes  # attention_window 256
    else:
        assert _attention_types(model) == {"block_sparse"}

    int8 = run_cell("onnx-int8", subject, tmp_path)
    if family == "longformer-qa" and int8.status == "fail":
        # Folding shape arithmetic drops a Split whose outputs the graph's If branches still read.
        assert int8.reason.startswith("quantizer: InvalidGraph"), int8.reason
    else:
        assert int8.status == "pass", int8.reason
        assert int8.metrics["argmax_agreement"] >= 0.9 and int8.metrics["quantized_ops"] > 0
    tflite = run_cell("tflite", subject, tmp_path)
    if tflite.status == "pass":
        assert "sparse attention kept" in tflite.reason
    else:
        assert tflite.reason.startswith("export error: litert-torch could not convert"), tflite.reason
