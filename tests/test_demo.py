"""`edgeship demo` end to end, offline, on a small slice of the embedded data."""

from __future__ import annotations

from pathlib import Path

from edgeship.bundle import Bundle
from tests.conftest import run_cli


def test_demo_trains_exports_evaluates_and_benchmarks_offline(tmp_path: Path) -> None:
    args = [
        "demo",
        "--out",
        str(tmp_path / "out"),
        "--train-samples",
        "48",
        "--test-samples",
        "40",
        "--bench-runs",
        "3",
    ]
    env = {"EDGESHIP_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    bundle = Bundle.open(tmp_path / "out" / "rotten-tomatoes-minilm")
    manifest = bundle.manifest
    assert manifest.source.role == "teacher" and manifest.source.labels == ["rotten", "fresh"]
    variants = {v.id: v for v in manifest.variants}
    assert list(variants) == ["onnx-fp32", "onnx-int8-dynamic", "onnx-int8-static", "onnx-int4-weight"]
    variant = variants["onnx-fp32"]
    assert variant.parity.max_abs_diff <= 1e-4 and variant.parity.argmax_agreement == 1.0
    for each in variants.values():
        assert each.evaluated_on.model_dump() == {
            "dataset": "rotten_tomatoes",
            "split": "test",
            "samples": 40,
        }
        assert 0.0 <= each.accuracy <= 1.0
    assert variants["onnx-int8-dynamic"].bytes < 0.3 * variant.bytes
    assert sorted(b.variant for b in manifest.benchmarks) == sorted(variants)
    for benchmark in manifest.benchmarks:
        assert (
            benchmark.device == "local"
            and benchmark.runs == 3
            and benchmark.input_shapes["input_ids"] == [1, 64]
        )
    student = Bundle.open(tmp_path / "out" / "rotten-tomatoes-minilm-student").manifest
    assert student.source.role == "student" and student.source.teacher == manifest.source.model
    assert [v.id for v in student.variants] == list(variants)
    assert student.variants[0].bytes < 0.8 * variant.bytes
    assert sorted(b.variant for b in student.benchmarks) == sorted(variants)
    assert "Demo student" in result.stdout and "PyTorch student accuracy" in result.stdout
    assert "PyTorch teacher accuracy" in result.stdout and str(bundle.root) in result.stdout.replace("\n", "")
    # a second run reuses the cached teacher instead of training again
    again = run_cli(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert "Reusing the fine-tuned teacher" in again.stderr
    assert (
        Bundle.open(tmp_path / "out" / "rotten-tomatoes-minilm").manifest.variants[0].accuracy
        == variant.accuracy
    )
