"""The full conformance matrix (about 23 minutes on 2 cores): `pytest -m conformance tests/conformance`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgeship.conformance.families import CELLS, FAMILY_NAMES
from edgeship.conformance.render import matrix_markdown
from edgeship.conformance.results import save_run
from edgeship.conformance.runner import run_matrix

pytestmark = [pytest.mark.conformance, pytest.mark.slow]

USER_FIRST = (
    "bert",
    "distilbert",
    "bert-embed",
    "distilbert-embed",
    "xlm-roberta-embed",
    "bert-ner",
    "distilbert-ner",
    "xlm-roberta-ner",
    "deberta-v2-ner",
    "bert-qa",
    "distilbert-qa",
    "xlm-roberta-qa",
    "deberta-v2-qa",
    "mobilebert",
    "albert",
    "squeezebert",
    "deberta-v2",
    "vit",
    "swin",
    "efficientformer",
    "efficientformerv2",
    "levit",
    "fastvit",
)
"""The families a user hits first: every export and int8 cell must pass for them."""
ONNX_PARITY_FAILURES = ("longformer-ner",)
"""ONNX fp32 cells known to miss parity, recorded in the matrix: Longformer's ONNX graph drifts ~3e-5 from
PyTorch on every token's tags (within the tolerance), which flips 2 of 6,707 random-weight near-ties."""


def test_every_family_gets_a_verdict_in_every_cell(tmp_path: Path) -> None:
    run = run_matrix(list(FAMILY_NAMES), list(CELLS), tmp_path / "work", cell_timeout_s=600)
    output = Path(os.environ.get("EDGESHIP_CONFORMANCE_OUT", tmp_path))
    save_run(run, output / "support-matrix.json")
    (output / "support-matrix.md").write_text(matrix_markdown(run), encoding="utf-8")

    assert [(r.family, r.cell) for r in run.results] == [(f, c) for f in FAMILY_NAMES for c in CELLS]
    for result in run.results:
        if result.status != "pass":
            assert result.reason and "\n" not in result.reason and len(result.reason) <= 240, result
    for family in USER_FIRST:
        for cell in ("onnx", "onnx-int8", "tflite", "tflite-int8"):
            result = run.result(family, cell)
            assert result is not None and result.status == "pass", result
    for family in ONNX_PARITY_FAILURES:
        result = run.result(family, "onnx")
        assert result is not None and result.reason.startswith("parity:"), result
    assert run.pass_rate("onnx") == (len(FAMILY_NAMES) - len(ONNX_PARITY_FAILURES), len(FAMILY_NAMES))
