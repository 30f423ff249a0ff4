"""TensorRT on a real GPU: engines from a tiny BERT at fp32 / fp16 / int8, parity, and a local-gpu bench.

Run with `.venv/bin/pytest -m gpu` on a machine with an NVIDIA GPU and `pip install "edgeship[tensorrt]"`;
elsewhere every test here is reported as skipped, with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeship.bundle import Bundle
from edgeship.runtimes.tensorrt_target import cuda_available, import_tensorrt
from tests.conftest import run_cli

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        import_tensorrt() is None, reason='TensorRT is not installed (pip install "edgeship[tensorrt]")'
    ),
    pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU visible to PyTorch"),
]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, bert_dir: Path) -> Path:
    """A tiny BERT bundle with plain (unfused) ONNX, so its Q/DQ int8 variant is TensorRT-readable."""
    out = tmp_path_factory.mktemp("trt") / "bert"
    result = run_cli("export", str(bert_dir), "--out", str(out), "--max-length", "32", "--no-optimize")
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize(("precision", "tolerance"), [("fp32", 1e-4), ("fp16", 5e-2)])
def test_engine_matches_pytorch(bundle: Path, bert_dir: Path, precision: str, tolerance: float) -> None:
    result = run_cli(
        "export", str(bert_dir), "-f", "tensorrt", "--precision", precision, "--out", str(bundle),
        "--max-length", "32", "--max-batch", "4",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    variant = Bundle.open(bundle).manifest.variant(f"tensorrt-{precision}")
    assert variant is not None and variant.parity is not None and variant.built_for is not None
    assert variant.parity.max_abs_diff <= tolerance
    assert variant.produced_by.tools["tensorrt"] == variant.built_for.tensorrt
    assert variant.produced_by.options["profile"]["input_ids"]["max"] == [4, 32]


def test_int8_engine_from_the_qdq_variant(bundle: Path, bert_dir: Path, text_csv: Path) -> None:
    quantized = run_cli(
        "quantize", str(bundle), "--format", "onnx", "--scheme", "int8-static", "--calibration-data",
        str(text_csv), "--calibration-samples", "16", "--target-runtime", "tensorrt",
    )  # fmt: skip
    assert quantized.returncode == 0, quantized.stderr
    result = run_cli(
        "export",
        str(bert_dir),
        "-f",
        "tensorrt",
        "--precision",
        "int8",
        "--out",
        str(bundle),
        "--max-length",
        "32",
    )
    assert result.returncode == 0, result.stderr
    variant = Bundle.open(bundle).manifest.variant("tensorrt-int8-static")
    assert variant is not None and variant.source_variant == "onnx-int8-static-tensorrt"
    assert variant.parity is not None and variant.parity.argmax_agreement >= 0.75


def test_bench_on_local_gpu_times_with_cuda_events(bundle: Path, bert_dir: Path) -> None:
    if Bundle.open(bundle).manifest.variant("tensorrt-fp16") is None:
        built = run_cli(
            "export",
            str(bert_dir),
            "-f",
            "tensorrt",
            "--precision",
            "fp16",
            "--out",
            str(bundle),
            "--max-length",
            "32",
        )
        assert built.returncode == 0, built.stderr
    result = run_cli(
        "bench", str(bundle), "--device", "local-gpu", "--variant", "tensorrt-fp16", "--runs", "20"
    )
    assert result.returncode == 0, result.stderr
    raw = json.loads((bundle / "bench" / "local-gpu" / "tensorrt-fp16.json").read_text())
    assert raw["runtime"] == "tensorrt" and raw["timing"].startswith("cuda-events")
    assert raw["latency_ms"]["p50"] > 0 and raw["gpu_memory_mb"]["total"] > 0
