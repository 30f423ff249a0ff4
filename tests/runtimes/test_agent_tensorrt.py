"""The agent's TensorRT mode without a GPU: trtexec and nvidia-smi parsing, refusals, engine checks, and
its engine build mode (trtexec command lines, build reports) against a stand-in trtexec."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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
        [sys.executable, "-I", str(AGENT), "bench", "--format", "tensorrt", "--model", str(engine), "--inputs", inputs],
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


# --- Engine builds on a device (edgeship export --device): trtexec command lines and output ---

TRTEXEC_BUILD_FAILED = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v8502] # /usr/src/tensorrt/bin/trtexec --onnx=plain.onnx
[08/14/2024-10:22:31] [I] TensorRT version: 8.5.2
[08/14/2024-10:22:40] [E] Error[4]: [network.cpp::validate::2789] Error Code 4: Internal Error (input_ids: dynamic input is missing dimensions in profile 0.)
[08/14/2024-10:22:40] [E] Engine could not be created from network
[08/14/2024-10:22:40] [E] Building engine failed
[08/14/2024-10:22:40] [E] Engine set up failed
&&&& FAILED TensorRT.trtexec [TensorRT v8502] # /usr/src/tensorrt/bin/trtexec --onnx=plain.onnx
"""


def _manifest_profile(max_batch: int, max_length: int) -> dict:
    """The agent's --profile for a text bundle's inputs, as `edgeship export --device` computes it."""
    from edgeship.export.tensorrt_config import optimization_profile, profile_options
    from edgeship.manifest import TensorSpec

    inputs = [
        TensorSpec(name=name, dtype="int64", shape=["batch", "sequence"])
        for name in ("input_ids", "attention_mask")
    ]
    return profile_options(optimization_profile(inputs, max_length=max_length, max_batch=max_batch))


def test_trtexec_build_command_carries_the_profile_precision_workspace_and_cache() -> None:
    profile = _manifest_profile(max_batch=8, max_length=128)
    command = agent.trtexec_build_command(
        "/usr/src/tensorrt/bin/trtexec", "g.onnx", "e.engine", "int8", profile, 1024, "/c/sm87.timing"
    )
    assert command == [
        "/usr/src/tensorrt/bin/trtexec", "--onnx=g.onnx", "--saveEngine=e.engine", "--int8", "--fp16",
        "--minShapes=input_ids:1x1,attention_mask:1x1", "--optShapes=input_ids:1x128,attention_mask:1x128",
        "--maxShapes=input_ids:8x128,attention_mask:8x128", "--memPoolSize=workspace:1024",
        "--timingCacheFile=/c/sm87.timing",
    ]  # fmt: skip
    flags = {
        p: [
            a
            for a in agent.trtexec_build_command("t", "g", "e", p, profile, 1, "c")
            if a in ("--fp16", "--int8")
        ]
        for p in ("fp32", "fp16", "int8", "int4")
    }
    assert flags == {"fp32": [], "fp16": ["--fp16"], "int8": ["--int8", "--fp16"], "int4": ["--fp16"]}
    image = {"pixel_values": {"min": [1, 3, 224, 224], "opt": [1, 3, 224, 224], "max": [4, 3, 224, 224]}}
    assert "--maxShapes=pixel_values:4x3x224x224" in agent.trtexec_build_command(
        "t", "g", "e", "fp16", image, 1, "c"
    )


def test_builder_flags_are_one_table_for_local_and_device_builds() -> None:
    from edgeship.export.tensorrt_config import BUILDER_FLAGS

    assert BUILDER_FLAGS is agent.BUILDER_FLAGS


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec --help", "10.3.0"),
        ("&&&& RUNNING TensorRT.trtexec [TensorRT v101300] # trtexec", "10.13.0"),
        ("&&&& RUNNING TensorRT.trtexec [TensorRT v8502] # trtexec", "8.5.2"),
        ("[TensorRT v8601]\n[I] TensorRT version: 8.6.1", "8.6.1"),
        ("no banner", None),
    ],
)
def test_trtexec_version_from_its_banner_or_version_line(text: str, version: str | None) -> None:
    assert agent.trtexec_version(text) == version


def test_trtexec_build_output_is_parsed() -> None:
    failed = agent.parse_trtexec_build(TRTEXEC_BUILD_FAILED)
    assert failed["tensorrt"] == "8.5.2" and failed["engine_build_s"] is None
    assert failed["error"] == (
        "Error[4]: [network.cpp::validate::2789] Error Code 4: Internal Error "
        "(input_ids: dynamic input is missing dimensions in profile 0.)"
    )
    built = agent.parse_trtexec_build(
        "&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec\n"
        "[08/14/2024-10:22:31] [I] Engine built in 41.7 sec.\n&&&& PASSED TensorRT.trtexec"
    )
    assert built["tensorrt"] == "10.3.0" and built["engine_build_s"] == 41.7
    unexplained = agent.parse_trtexec_build("[E] Engine set up failed\n&&&& FAILED TensorRT.trtexec")
    assert unexplained["error"] == "Engine set up failed"


def test_trtexec_exported_outputs_are_parsed() -> None:
    exported = (
        '[\n  { "name" : "logits"\n  , "dimensions" : "2x3"\n  , "values" : [ 0.125, -1.5e-05, nan, '
        '-inf, 3, -nan ]\n  }\n, { "name" : "score"\n  , "dimensions" : ""\n  , "values" : [ 7 ]\n  }\n]\n'
    )
    logits, score = agent.parse_trtexec_outputs(exported)
    assert logits.shape == (2, 3) and logits.dtype == np.float32
    assert logits[0, :2].tolist() == pytest.approx([0.125, -1.5e-05])
    assert np.isnan(logits[0, 2]) and logits[1, 0] == -np.inf and np.isnan(logits[1, 2])
    assert score.shape == () and float(score) == 7


def _tiny_onnx(path: Path) -> Path:
    """input_ids (int64, dynamic batch and sequence) -> embedding -> mean -> 3 logits."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).standard_normal((50, 3)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "input_ids"], ["embedded"]),
            helper.make_node("ReduceMean", ["embedded"], ["logits"], axes=[1], keepdims=0),
        ],
        "tiny",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(weights, "table")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _lone_agent(
    tmp_path: Path, path_dirs: list[Path], *arguments: str, **env: str
) -> subprocess.CompletedProcess:
    """The agent run alone, with only `path_dirs` and the system folders on PATH."""
    search = ":".join([*(str(d) for d in path_dirs), "/usr/bin", "/bin"])
    return subprocess.run(
        [sys.executable, "-I", str(AGENT), *arguments],
        capture_output=True, text=True, check=False, timeout=300, cwd=tmp_path,
        env={"PATH": search, "XDG_CACHE_HOME": str(tmp_path / "cache"), **env},
    )  # fmt: skip


def test_agent_builds_saves_outputs_and_times_with_trtexec(tmp_path: Path) -> None:
    """The agent's trtexec path end to end, with a stand-in trtexec (TensorRT cannot exist on a machine
    without an NVIDIA GPU): the build command, the JSON report, and outputs back through --exportOutput."""
    from tests.runtimes.fake_trtexec import GPU_NAME, MAGIC, install_fake_gpu

    fake = install_fake_gpu(tmp_path / "bin")
    log = tmp_path / "trtexec.jsonl"
    graph = _tiny_onnx(tmp_path / "tiny.onnx")
    engine = tmp_path / "out" / "tiny.engine"
    profile = {"input_ids": {"min": [1, 1], "opt": [1, 8], "max": [4, 8]}}
    built = _lone_agent(
        tmp_path, [fake], "build-engine", str(graph), "--engine-out", str(engine), "--precision", "fp16",
        "--profile", json.dumps(profile), "--workspace-mb", "512", FAKE_TRTEXEC_LOG=str(log),
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    report = json.loads(built.stdout)
    assert report["builder"] == "trtexec" and report["tensorrt"] == "10.3.0" and report["layers"] is None
    assert report["gpu"]["name"] == GPU_NAME and report["gpu"]["compute_capability"] == "8.7"
    data = engine.read_bytes()
    assert data == MAGIC + graph.read_bytes() and not list(engine.parent.glob("*.partial"))
    assert report["bytes"] == len(data) and report["sha256"] == hashlib.sha256(data).hexdigest()
    cache = tmp_path / "cache" / "edgeship" / "tensorrt" / "sm87-trt10.3.0.timing"
    assert report["timing_cache"] == str(cache) and cache.is_file()
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert ["--help"] in calls and calls[-1] == [
        f"--onnx={graph}", f"--saveEngine={engine}.partial", "--fp16", "--minShapes=input_ids:1x1",
        "--optShapes=input_ids:1x8", "--maxShapes=input_ids:4x8", "--memPoolSize=workspace:512",
        f"--timingCacheFile={cache}",
    ]  # fmt: skip

    feeds = {"input_ids": np.random.default_rng(1).integers(0, 50, (2, 8)).astype(np.int64)}
    np.savez(tmp_path / "feeds.npz", **feeds)
    ran = _lone_agent(
        tmp_path, [fake], "bench", "--format", "tensorrt", "--model", str(engine),
        "--input-file", str(tmp_path / "feeds.npz"), "--runs", "3",
        "--warmup", "1", "--save-outputs", str(tmp_path / "outputs.npz"),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["runtime"] == "tensorrt" and result["runtime_version"] == "trtexec 10.3.0"
    assert result["timing"] == "trtexec GPU compute time per inference" and result["latency_ms"]["p50"] > 0
    import onnxruntime as ort

    expected = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    with np.load(tmp_path / "outputs.npz") as saved:
        assert saved["arr_0"].shape == (2, 3)
        np.testing.assert_allclose(saved["arr_0"], expected, rtol=1e-5, atol=1e-6)  # trtexec prints 6 digits


def test_agent_build_refuses_without_a_gpu_or_tensorrt_and_reports_trtexec_errors(tmp_path: Path) -> None:
    from tests.runtimes.fake_trtexec import install_fake_gpu

    if agent.gpu_info() is not None:
        pytest.skip("this machine has an NVIDIA GPU")
    graph = _tiny_onnx(tmp_path / "tiny.onnx")
    engine = tmp_path / "tiny.engine"
    build = ["build-engine", str(graph), "--engine-out", str(engine), "--profile", "{}"]
    no_gpu = _lone_agent(tmp_path, [], *build)
    assert no_gpu.returncode == 1 and no_gpu.stderr.strip() == (
        "agent: this machine has no NVIDIA GPU (no nvidia-smi, not a Jetson)"
    )
    gpu_only = _lone_agent(tmp_path, [install_fake_gpu(tmp_path / "gpu-only", trtexec=False)], *build)
    assert (
        gpu_only.returncode == agent.MISSING_RUNTIME_EXIT and "tensorrt is not installed" in gpu_only.stderr
    )
    failing = _lone_agent(tmp_path, [install_fake_gpu(tmp_path / "bin")], *build, FAKE_TRTEXEC_FAIL="1")
    assert failing.returncode == 1
    assert failing.stderr.strip().splitlines()[-1] == (
        "agent: trtexec could not build the engine: Error[4]: [network.cpp::validate::2789] Error Code 4: "
        "Internal Error (input_ids: dynamic input is missing dimensions in profile 0.)"
    )
    assert not engine.exists() and not list(tmp_path.glob("*.partial"))
