"""`edgeship demo` end to end, offline, on a small slice of the embedded data."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeship.bundle import Bundle
from edgeship.compress.quantize.spec import get_scheme
from edgeship.manifest import Variant
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
        assert quantized.parity.max_abs_diff <= get_scheme(precision).tolerance
        # past the budget, layers stay float (the fallback): smaller than fp32, not by the full ratio
        assert quantized.bytes < (1.0 if quantized.kept_float else ratio) * fp32.bytes
        assert quantized.evaluated_on.samples == 40 and quantized.evaluated_on.split == "test"
        # the demo's budget: at most 1 point below fp32, else layers stay float
        assert fp32.accuracy - quantized.accuracy <= 0.01


@pytest.mark.slow  # about 4.5 minutes on 2 cores; the tiny recipe in tests/recipe covers the same steps
def test_demo_runs_the_text_recipe_offline_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["demo", "--out", str(out), "--set", "data.train_samples=48", "--set", "data.eval_samples=40"]
    args += [
        "--set",
        "devices=[{name: local, runs: 3}, {name: qemu-a72, variants: [onnx-int8-dynamic, tflite-int8-dynamic],"
        " runs: 1, warmup: 0, optional: false}]",
    ]
    env = {"HF_HUB_OFFLINE": "1"}
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    bundle = Bundle.open(out / "rotten-tomatoes-minilm")
    manifest = bundle.manifest
    assert manifest.source.role == "teacher" and manifest.source.labels == ["rotten", "fresh"]
    variants = {v.id: v for v in manifest.variants}
    assert set(variants) == {
        "onnx-fp32",
        "onnx-int8-dynamic",
        "onnx-int8-static",
        "onnx-int4-weight",
        "tflite-fp32",
        "tflite-int8-dynamic",
        "tflite-int4-weight",
    }
    variant = variants["onnx-fp32"]
    assert variant.parity.max_abs_diff <= 1e-4 and variant.parity.argmax_agreement == 1.0
    check_tflite_rows(variants)
    for each in variants.values():
        assert each.evaluated_on.model_dump() == {
            "dataset": "rotten_tomatoes",
            "split": "test",
            "samples": 40,
            "metric": "accuracy",
        }
        assert 0.0 <= each.accuracy <= 1.0
    assert variants["onnx-int8-dynamic"].bytes < 0.3 * variant.bytes
    local = [b for b in manifest.benchmarks if b.device == "local"]
    assert sorted(b.variant for b in local) == sorted(variants)
    assert all(b.runs == 3 and b.input_shapes["input_ids"] == [1, 64] and not b.emulated for b in local)
    emulated = sorted((b.variant, b.emulated) for b in manifest.benchmarks if b.device == "qemu-a72")
    assert emulated == [("onnx-int8-dynamic", True), ("tflite-int8-dynamic", True)]

    student = Bundle.open(out / "rotten-tomatoes-minilm-student").manifest
    assert student.source.role == "student" and student.source.teacher == manifest.source.model
    assert [v.id for v in student.variants] == [v for v in variants if v.startswith("onnx-")]
    assert student.variants[0].bytes < 0.8 * variant.bytes
    assert {(b.variant, b.device) for b in student.benchmarks} == {
        *((v.id, "local") for v in student.variants),
        ("onnx-int8-dynamic", "qemu-a72"),
    }
    for root in (bundle.root, out / "rotten-tomatoes-minilm-student"):
        assert (root / "report.html").is_file() and any((root / "plots").glob("*.png"))
    assert (bundle.root / "app" / "android").is_dir() and (bundle.root / "app" / "ios").is_dir()
    assert "tflite-int4-weight" in result.stdout and "rotten-tomatoes-minilm student" in result.stdout

    again = run_cli(*args, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing changed: no step ran" in again.stdout
    assert "Reusing the fine-tuned teacher" in again.stderr
    assert Bundle.open(out / "rotten-tomatoes-minilm").manifest.model_dump() == manifest.model_dump()
