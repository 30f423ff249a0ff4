"""The fast slice of the conformance matrix: BERT and ViT ONNX cells, rendering, one-line failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeship.conformance.families import CELLS, FAMILY_NAMES
from edgeship.conformance.results import CellResult, load_run
from edgeship.conformance.runner import run_matrix
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`edgeship support` on BERT and ViT, ONNX fp32 and int8 cells, saved as JSON and Markdown."""
    root = tmp_path_factory.mktemp("support")
    result = run_cli(
        "support",
        "--families",
        "vit,bert",
        "--cells",
        "onnx,onnx-int8",
        "--save",
        str(root / "run.json"),
        "--markdown",
        str(root / "support-matrix.md"),
        "--timeout",
        "300",
    )
    assert result.returncode == 0, result.stderr
    assert "BERT" in result.stdout and "ViT" in result.stdout and "2/2 (100%)" in result.stdout
    return root


def test_bert_and_vit_export_to_onnx_with_parity_and_quantize_to_int8(saved_run: Path) -> None:
    run = load_run(saved_run / "run.json")
    assert (run.families, run.cells) == (["bert", "vit"], ["onnx", "onnx-int8"])
    for family in ("bert", "vit"):
        fp32, int8 = run.result(family, "onnx"), run.result(family, "onnx-int8")
        assert fp32 is not None and int8 is not None
        assert fp32.status == "pass", fp32.reason
        assert fp32.metrics["max_abs_diff"] <= 1e-4 and fp32.metrics["argmax_agreement"] == 1.0
        assert int8.status == "pass", int8.reason
        assert int8.metrics["argmax_agreement"] >= 0.9 and int8.metrics["quantized_ops"] > 0
        assert 0 < int8.metrics["max_abs_diff"] < 0.1  # really quantized, still close
    assert run.pass_rate("onnx") == (2, 2)
    assert run.versions["onnxruntime"] != "not installed" and run.created[:2] == "20"


def test_saved_run_is_shown_and_filtered_without_running_anything(saved_run: Path) -> None:
    result = run_cli("support", "--from", str(saved_run / "run.json"), "--cells", "onnx-int8")
    assert result.returncode == 0, result.stderr
    assert "ONNX int8" in result.stdout and "ONNX fp32" not in result.stdout
    assert "2/2 (100%)" in result.stdout


def test_markdown_has_the_table_pass_rates_and_versions(saved_run: Path) -> None:
    markdown = (saved_run / "support-matrix.md").read_text()
    run = json.loads((saved_run / "run.json").read_text())
    assert markdown.startswith("# Support matrix\n")
    assert f"Run on {run['created'][:10]}" in markdown
    assert "| family | task | ONNX fp32 | ONNX int8 |" in markdown
    assert "| BERT | classification | pass | pass |" in markdown
    assert "| ViT | classification | pass | pass |" in markdown
    assert "| **pass rate** | | **2/2 (100%)** | **2/2 (100%)** |" in markdown
    assert f"- onnxruntime {run['versions']['onnxruntime']}" in markdown


def test_failing_cells_get_one_line_reasons_and_never_stop_the_run(tmp_path: Path) -> None:
    # A 1 s budget cannot even import torch: the worker is killed and every cell fails with the reason.
    timed_out = run_matrix(["bert"], ["onnx", "onnx-int8"], tmp_path / "timeout", cell_timeout_s=1)
    assert [(r.cell, r.status, r.reason) for r in timed_out.results] == [
        ("onnx", "fail", "build timeout: still running after 1 s"),
        ("onnx-int8", "fail", "build timeout: still running after 1 s"),
    ]
    # Quantizing with no fp32 export is refused with the cause; n/a cells say why and run nothing.
    blocked = run_matrix(["bert", "fastvit"], ["onnx-int4"], tmp_path / "blocked", cell_timeout_s=300)
    bert, fastvit = blocked.results
    assert (bert.status, bert.reason) == (
        "fail",
        "blocked: no fp32 ONNX model to quantize (its export cell failed)",
    )
    assert fastvit.status == "n/a" and "convolution-dominated" in fastvit.reason
    assert blocked.pass_rate("onnx-int4") == (0, 1)


def test_unknown_names_and_missing_runs_are_one_line_errors(tmp_path: Path) -> None:
    unknown = run_cli("support", "--families", "bert,gpt5")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        f"error: unknown family 'gpt5' in --families (hint: choose from: {', '.join(FAMILY_NAMES)})"
    )
    missing = run_cli("support", "--from", str(tmp_path / "nope.json"), "--cells", ",".join(CELLS))
    assert missing.returncode == 1 and missing.stderr.startswith("error: no saved matrix run at")
    assert len(missing.stderr.strip().splitlines()) == 1


def test_reasons_carry_no_paths_of_the_machine_that_ran_them() -> None:
    reason = (
        "converter: /work/main/.venv/lib/python3.11/site-packages/transformers/models/bert/modeling_bert.py:12: "
        "error; could not read /tmp/edgeship-support-1x/bert/model.onnx (ratio 1/2)"
    )
    result = CellResult(family="bert", cell="tflite", status="fail", reason=reason)
    assert result.reason == (
        "converter: <site-packages>/transformers/models/bert/modeling_bert.py:12: error; "
        "could not read model.onnx (ratio 1/2)"
    )
    shipped = (Path(__file__).resolve().parents[2] / "docs" / "support-matrix.md").read_text()
    assert "site-packages/" not in shipped.replace("<site-packages>/", "") and "/work/" not in shipped
