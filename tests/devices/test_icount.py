"""The deterministic emulated Cortex-A72: a real qemu-system-aarch64 -icount shift=0 guest booting Debian's
arm64 kernel with the cached userland as its initramfs. Boots take tens of seconds: marked icount and slow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeship.bundle import Bundle
from edgeship.devices.icount import QEMU, GuestJob, IcountDevice
from edgeship.devices.icount_image import ensure_image
from edgeship.devices.profiles import get_profile
from edgeship.devices.registry import get_device
from edgeship.errors import DeviceError
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def device() -> IcountDevice:
    """The built-in qemu-a72-icount device, its kernel and compiled stdlib cached (about 50 s the first time)."""
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} is not installed (run scripts/setup-system.sh as root)")
    ensure_image()
    found = get_device("qemu-a72-icount")
    assert isinstance(found, IcountDevice)
    return found


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """x[batch, 64] -> MatMul -> Relu -> MatMul -> y[batch, 10], built with onnx.helper."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal((64, 128)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.standard_normal((128, 10)).astype(np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("MatMul", ["r", "w2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("icount") / "tiny.onnx"
    onnx.save(model, path)
    return path


def test_the_job_maps_host_files_into_the_guest(tmp_path: Path) -> None:
    model, out = tmp_path / "dir with space" / "m.tflite", tmp_path / "out.npz"
    model.parent.mkdir()
    model.write_bytes(b"tflite")
    job = GuestJob.from_arguments(
        ["bench", "--format", "tflite", "--model", str(model), "--save-outputs", str(out), "--runs", "2"]
    )
    assert job.arguments == [
        "bench",
        "--format",
        "tflite",
        "--model",
        "/edgeship/in/0/m.tflite",
        "--save-outputs",
        "/edgeship/out/out.npz",
    ] + [
        "--runs",
        "2",
    ]
    assert job.inputs == {"/edgeship/in/0/m.tflite": model} and job.runtimes == {"ai-edge-litert"}
    assert GuestJob.from_arguments(["probe"]).runtimes == {"onnxruntime", "ai-edge-litert"}
    console = f"[boot noise]\r\n{job.marker}-BEGIN\r\n" + json.dumps(
        {"returncode": 0, "stdout": "{}", "stderr": "", "outputs": {"out.npz": "aGk="}}
    )
    assert job.completed(console + f"\r\n{job.marker}-END\r\n").returncode == 0 and out.read_bytes() == b"hi"
    assert "printed no result" in job.completed("Kernel panic").stderr
    with pytest.raises(DeviceError, match="is not a file"):
        GuestJob.from_arguments(["bench", "--format", "onnx", "--model", str(tmp_path / "missing.onnx")])


@pytest.mark.icount
@pytest.mark.slow
def test_outputs_match_the_host_and_two_boots_time_identically(
    device: IcountDevice, tiny_onnx: Path, tmp_path: Path
) -> None:
    import onnxruntime

    x = np.random.default_rng(1).standard_normal((2, 64)).astype(np.float32)
    np.savez(tmp_path / "feeds.npz", x=x)
    [expected] = onnxruntime.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )
    results = []
    for boot in ("first", "second"):
        saved = tmp_path / boot / "arm.npz"  # same file name: both boots get byte-identical initramfs images
        saved.parent.mkdir()
        arguments = ["bench", "--format", "onnx", "--model", str(tiny_onnx)]
        arguments += ["--input-file", str(tmp_path / "feeds.npz")]
        arguments += [
            "--save-outputs",
            str(saved),
            "--threads",
            "1",
            "--runs",
            "5",
            "--warmup",
            "1",
            "--emulated",
        ]
        completed = device.execute_agent(arguments, timeout=900)
        assert completed.returncode == 0, completed.stderr
        results.append(json.loads(completed.stdout))
        with np.load(saved) as got:
            np.testing.assert_allclose(got["arr_0"], expected, rtol=1e-5, atol=1e-5)
    first, second = results
    assert first["cpu"] == second["cpu"] and first["cpu"]["model"] == "Cortex-A72"
    assert first["cpu"]["machine"] == "aarch64" and first["cpu"]["cores"] == 1
    assert first["latency_ms"] == second["latency_ms"] and first["load_ms"] == second["load_ms"]
    assert first["emulated"] is True


@pytest.mark.icount
@pytest.mark.slow
def test_bench_labels_results_emulated_instruction_count_time(
    device: IcountDevice, bundle_copy: Path
) -> None:
    result = run_cli("bench", str(bundle_copy), "--device", "qemu-a72-icount", "--runs", "2", "--warmup", "0")
    assert result.returncode == 0, result.stderr
    [benchmark] = Bundle.open(bundle_copy).manifest.benchmarks
    assert benchmark.device == "qemu-a72-icount" and benchmark.emulated is True and benchmark.threads == 1
    raw = json.loads((bundle_copy / benchmark.raw).read_text())
    assert raw["emulated"] is True and raw["timing"].startswith("instruction count")
    assert raw["cpu"]["model"] == "Cortex-A72" and raw["latency_ms"]["p50"] > 0
    assert "qemu-a72-icount (emulated) p50 ms" in result.stdout


@pytest.mark.icount
@pytest.mark.slow
def test_a_run_past_its_timeout_fails_in_one_line(device: IcountDevice, tiny_onnx: Path) -> None:
    hurried = IcountDevice("qemu-a72-icount", get_profile("qemu-a72-icount"), timeout=1)
    inputs = [{"name": "x", "dtype": "float32", "shape": [1, 64]}]
    with pytest.raises(DeviceError, match="did not power off within 1 s") as raised:
        hurried.run_agent(str(tiny_onnx), inputs, artifact_format="onnx", threads=1, runs=1, warmup=0)
    assert "\n" not in str(raised.value) and "--runs" in raised.value.hint
