"""benchmarks/gpu_fallback.py: GPU latency without TensorRT (PyTorch fp32 / fp16 / bf16, ONNX Runtime CUDA).

The measuring test needs an NVIDIA GPU with CUDA (`pytest -m gpu`); elsewhere it is reported as skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgeship.runtimes.tensorrt_target import cuda_available

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_fallback.py"
ROWS = [("pytorch", p) for p in ("fp32", "fp16", "bf16")] + [
    ("onnxruntime-cuda", p) for p in ("fp32", "fp16")
]


def run_benchmark(
    tmp_path: Path, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="needs an NVIDIA GPU with CUDA")
def test_tiny_bert_rows_at_batch_1_and_32(tmp_path: Path) -> None:
    import onnxruntime as ort

    out = tmp_path / "gpu_fallback.json"
    done = run_benchmark(tmp_path, "--tiny", "--runs", "20", "--warmup", "3", "--out", str(out))
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    rows = {(r["engine"], r["precision"], r["batch"]): r for r in result["rows"]}
    assert set(rows) == {(engine, precision, batch) for engine, precision in ROWS for batch in (1, 32)}
    assert result["settings"]["gpu"] and result["settings"]["runs"] == 20
    has_ort_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    for (engine, precision, batch), row in rows.items():
        if engine == "onnxruntime-cuda" and not has_ort_cuda:
            assert row["status"] == "not available: install onnxruntime-gpu" and row["p50_ms"] is None
            continue
        if precision == "bf16" and row["status"] != "ok":
            assert row["status"] == "not available: this GPU has no bfloat16"
            continue
        assert row["status"] == "ok", row
        assert 0 < row["p50_ms"] <= row["p90_ms"]
        fp32 = rows[("pytorch", "fp32", batch)]["p50_ms"]
        assert row["vs_pytorch_fp32"] == pytest.approx(row["p50_ms"] / fp32)
        assert row["sequences_per_s"] == pytest.approx(batch * 1000 / row["p50_ms"])
        # reduced precision stays close to fp32 on the same inputs (random weights: logits near 0)
        limit = {"fp32": 1e-3, "fp16": 5e-2, "bf16": 2e-1}[precision]
        assert row["max_abs_diff_vs_pytorch_fp32"] <= limit
    assert rows[("pytorch", "fp32", 1)]["vs_pytorch_fp32"] == 1.0
    assert "pytorch" in done.stdout and "Wrote" in done.stdout


def test_without_a_gpu_it_stops_in_one_line(tmp_path: Path) -> None:
    done = run_benchmark(
        tmp_path, "--tiny", "--out", str(tmp_path / "x.json"), env={"CUDA_VISIBLE_DEVICES": ""}
    )
    assert done.returncode == 1
    assert (
        done.stderr.strip() == "gpu_fallback: no NVIDIA GPU with CUDA is available here; nothing was measured"
    )
    assert not (tmp_path / "x.json").exists()
