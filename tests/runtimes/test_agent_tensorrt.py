"""The agent's TensorRT mode without a GPU: trtexec and nvidia-smi parsing, refusals, engine checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgeship.devices.engines import check_engines
from edgeship.devices.registry import get_device
from edgeship.errors import DeviceError
from edgeship.manifest import GpuTarget, Producer, Variant
from edgeship.runtimes import agent

AGENT = Path(agent.__file__)
# trtexec's documented performance summary (TensorRT 10.3), as `trtexec --loadEngine=... --dumpProfile` prints it.
TRTEXEC_OUTPUT = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec --loadEngine=tensorrt-fp16.engine
[08/14/2024-10:22:31] [I] === Performance summary ===
[08/14/2024-10:22:31] [I] Throughput: 1523.4 qps
[08/14/2024-10:22:31] [I] Latency: min = 0.71 ms, max = 1.52 ms, mean = 0.74 ms, median = 0.73 ms, percentile(90%) = 0.76 ms, percentile(95%) = 0.78 ms, percentile(99%) = 0.91 ms
[08/14/2024-10:22:31] [I] Enqueue Time: min = 0.05 ms, max = 0.21 ms, mean = 0.06 ms, median = 0.06 ms, percentile(90%) = 0.07 ms, percentile(95%) = 0.08 ms, percentile(99%) = 0.12 ms
[08/14/2024-10:22:31] [I] GPU Compute Time: min = 0.62 ms, max = 1.40 ms, mean = 0.65 ms, median = 0.64 ms, percentile(90%) = 0.67 ms, percentile(95%) = 0.69 ms, percentile(99%) = 0.80 ms
[08/14/2024-10:22:31] [I] Total Host Walltime: 3.00083 s
&&&& PASSED TensorRT.trtexec [TensorRT v100300] # trtexec --loadEngine=tensorrt-fp16.engine
"""


def test_trtexec_summary_is_parsed() -> None:
    summary = agent.parse_trtexec_summary(TRTEXEC_OUTPUT)
    assert summary["throughput_qps"] == 1523.4
    assert summary["GPU Compute Time"] == {
        "min": 0.62, "max": 1.40, "mean": 0.65, "median": 0.64, "p90": 0.67, "p95": 0.69, "p99": 0.80,
    }  # fmt: skip
    assert summary["Latency"]["p99"] == 0.91
    assert "Total Host Walltime" not in summary


def test_trtexec_export_times_give_compute_milliseconds() -> None:
    records = [
        {"startComputeMs": 10.0, "endComputeMs": 10.6, "latencyMs": 0.9},
        {"computeMs": 0.62, "latencyMs": 0.8},
    ]
    assert agent.trtexec_compute_times(records) == pytest.approx([0.6, 0.62])


def test_nvidia_smi_line_is_parsed() -> None:
    parsed = agent.parse_nvidia_smi("NVIDIA H100 80GB HBM3, 9.0, 550.54.15, 81559\n")
    assert parsed == {
        "name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0", "driver": "550.54.15", "memory_mb": 81559.0,
    }  # fmt: skip


def test_agent_says_tensorrt_is_missing_with_exit_3(tmp_path: Path) -> None:
    if agent.gpu_info() is not None:
        pytest.skip("this machine has an NVIDIA GPU")
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"not an engine")
    inputs = json.dumps([{"name": "x", "dtype": "float32", "shape": [1, 4]}])
    done = subprocess.run(
        [sys.executable, "-I", str(AGENT), "--model", str(engine), "--inputs", inputs],
        capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == agent.MISSING_RUNTIME_EXIT
    assert "tensorrt is not installed" in done.stderr


def _engine(built_for: GpuTarget) -> Variant:
    return Variant(
        id="tensorrt-fp16", format="tensorrt", precision="fp16", file="models/tensorrt-fp16.engine", bytes=1,
        sha256="0" * 64, produced_by=Producer(step="export"), built_for=built_for,
    )  # fmt: skip


def _probe(gpu: dict | None, tensorrt: str | None) -> dict:
    return {"runtimes": {"tensorrt": tensorrt} if tensorrt else {}, "gpu": gpu, "python": "3.10"}


ORIN_GPU = {"name": "NVIDIA Jetson Orin Nano", "compute_capability": "8.7", "trtexec": "/usr/bin/trtexec"}
ORIN = GpuTarget(gpu="Orin", compute_capability="8.7", tensorrt="10.3.0")


def test_engines_run_where_the_gpu_and_tensorrt_match() -> None:
    device = get_device("local-gpu")
    assert device.profile.name == "local-gpu"
    check_engines(device, _probe(ORIN_GPU, "10.3.0"), [_engine(ORIN)])
    check_engines(device, _probe(ORIN_GPU, None), [_engine(ORIN)])  # trtexec alone


@pytest.mark.parametrize(
    ("probe", "message"),
    [
        (_probe(None, None), "has no NVIDIA GPU"),
        (_probe({**ORIN_GPU, "trtexec": None}, None), "no TensorRT"),
        (_probe({**ORIN_GPU, "compute_capability": "9.0"}, "10.3.0"), "compute capability 8.7"),
        (_probe(ORIN_GPU, "8.6.2"), "TensorRT 10.3.0, this one has 8.6.2"),
    ],
)
def test_engines_are_refused_in_one_line_where_they_cannot_run(probe: dict, message: str) -> None:
    with pytest.raises(DeviceError, match=message) as error:
        check_engines(get_device("local-gpu"), probe, [_engine(ORIN)])
    assert "\n" not in error.value.one_line()
