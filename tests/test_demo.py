"""`edgeship demo` end to end, offline, on a small slice of the embedded data."""

from __future__ import annotations

from pathlib import Path

from edgeship.bundle import Bundle
from edgeship.manifest import Variant
from edgeship.pipeline.quantize import QUANTIZED_TOLERANCE
from tests.conftest import run_cli


def check_tflite_rows(variants: dict[str, Variant]) -> None:
    """TFLite fp32 matches PyTorch and ONNX; its int8 / int4 variants are smaller and keep the accuracy."""
    fp32 = variants["tflite-fp32"]
    assert fp32.parity.max_abs_diff <= 1e-4 and fp32.parity.argmax_agreement == 1.0
    assert fp32.inputs is not None and {(s.dtype, tuple(s.shape)) for s in fp32.inputs} == {
        ("int32", (1, 64))
    }
    assert abs(fp32.accuracy - variants["onnx-fp32"].accuracy) <= 0.025  # one of 40 reviews at most
    for precision, ratio in (("int8-dynamic", 0.3), ("int4-weight", 0.2)):
        quantized = variants[f"tflite-{precision}"]
        assert quantized.precision == precision and quantized.source_variant == "tflite-fp32"
        assert quantized.parity.max_abs_diff <= QUANTIZED_TOLERANCE[precision]
        # past the budget, layers stay float (the fallback): smaller than fp32, not by the full ratio
        assert quantized.bytes < (1.0 if quantized.kept_float else ratio) * fp32.bytes
        assert quantized.evaluated_on.samples == 40 and quantized.evaluated_on.split == "test"
        # the demo's budget: at most 1 point below fp32, else layers stay float
        assert fp32.accuracy - quantized.accuracy <= 0.01


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
    assert list(variants) == [
        "onnx-fp32",
        "onnx-int8-dynamic",
        "onnx-int8-static",
        "onnx-int4-weight",
        "tflite-fp32",
        "tflite-int8-dynamic",
        "tflite-int4-weight",
    ]
    variant = variants["onnx-fp32"]
    assert variant.parity.max_abs_diff <= 1e-4 and variant.parity.argmax_agreement == 1.0
    check_tflite_rows(variants)
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
    assert [v.id for v in student.variants] == [v for v in variants if v.startswith("onnx-")]
    assert student.variants[0].bytes < 0.8 * variant.bytes
    assert sorted(b.variant for b in student.benchmarks) == sorted(v.id for v in student.variants)
    assert (
        "tflite-int4-weight" in result.stdout
        and "Demo student" in result.stdout
        and "PyTorch student accuracy" in result.stdout
    )
    assert "PyTorch teacher accuracy" in result.stdout and str(bundle.root) in result.stdout.replace("\n", "")
    # a second run reuses the cached teacher instead of training again
    again = run_cli(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert "Reusing the fine-tuned teacher" in again.stderr
    assert (
        Bundle.open(tmp_path / "out" / "rotten-tomatoes-minilm").manifest.variants[0].accuracy
        == variant.accuracy
    )
