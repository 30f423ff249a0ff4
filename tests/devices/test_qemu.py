"""The emulated Cortex-A72 (qemu-aarch64-static, arm64 userland cached under EDGESHIP_CACHE)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgeship.bundle import Bundle
from edgeship.devices.base import agent_path
from edgeship.devices.userland import Userland, ensure_userland
from tests.conftest import run_cli
from tests.devices.conftest import Sshd, add_ssh_device

pytestmark = pytest.mark.qemu

SDOT_PROBE = """
import ctypes, mmap, struct
code = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
code.write(struct.pack("<II", 0x4E829420, 0xD65F03C0))  # sdot v0.4s, v1.16b, v2.16b (Armv8.2); ret
ctypes.CFUNCTYPE(None)(ctypes.addressof(ctypes.c_char.from_buffer(code)))()
print("sdot ran")
"""


@pytest.fixture(scope="module")
def userland() -> Userland:
    """The cached arm64 userland (built on first use: about 20 s and 270 MB)."""
    return ensure_userland()


def emulated(userland: Userland, *arguments: str, cpu: str = "cortex-a72") -> subprocess.CompletedProcess:
    """Run the emulated Python with `arguments`."""
    command = [*userland.python_command(cpu), *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def agent_outputs(python: list[str], model: Path, feeds: Path, out: Path) -> dict:
    """Run the agent with real inputs, saving the first run's outputs; returns its JSON."""
    command = [*python, str(agent_path()), "--model", str(model), "--input-file", str(feeds)]
    command += ["--save-outputs", str(out), "--runs", "2", "--warmup", "0", "--threads", "1"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr
    return dict(json.loads(completed.stdout))


def test_the_emulated_cpu_is_an_a72_that_refuses_armv82_dot_product(userland: Userland) -> None:
    refused = emulated(userland, "-c", SDOT_PROBE)
    assert refused.returncode == -4, (refused.returncode, refused.stderr)  # SIGILL
    allowed = emulated(userland, "-c", SDOT_PROBE, cpu="cortex-a76")
    assert allowed.returncode == 0 and "sdot ran" in allowed.stdout
    probe = emulated(userland, str(agent_path()), "--probe")
    facts = json.loads(probe.stdout)
    assert facts["cpu"]["machine"] == "aarch64" and facts["cpu"]["model"] == "Cortex-A72"
    assert "asimddp" not in facts["cpu"]["features"]
    assert {"onnxruntime", "ai-edge-litert"} <= set(facts["runtimes"])


def test_onnx_outputs_under_emulation_match_the_host(
    userland: Userland, tiny_bundle: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    feeds = tmp_path / "feeds.npz"
    np.savez(
        feeds,
        input_ids=rng.integers(0, 30522, size=(2, 16)).astype(np.int64),
        attention_mask=np.ones((2, 16), dtype=np.int64),
    )
    model = tiny_bundle / "models" / "onnx-fp32.onnx"
    host = agent_outputs([sys.executable], model, feeds, tmp_path / "host.npz")
    arm = agent_outputs(userland.python_command(), model, feeds, tmp_path / "arm.npz")
    assert arm["cpu"]["machine"] == "aarch64" and host["cpu"]["machine"] == "x86_64"
    with np.load(tmp_path / "host.npz") as expected, np.load(tmp_path / "arm.npz") as got:
        assert np.abs(expected["arr_0"] - got["arr_0"]).max() < 1e-4


def tiny_tflite(userland: Userland, path: Path, weights: np.ndarray, bias: np.ndarray) -> None:
    """A one-op TFLite model (FULLY_CONNECTED), written with the schema shipped inside ai-edge-litert."""
    import flatbuffers

    [schema_file] = userland.root.glob(
        "usr/local/lib/python3.11/dist-packages/ai_edge_litert/schema_py_generated.py"
    )
    spec = importlib.util.spec_from_file_location("tflite_schema", schema_file)
    assert spec and spec.loader
    schema = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(schema)

    def tensor(name: str, shape: list[int], buffer: int) -> object:
        item = schema.TensorT()
        item.name, item.shape, item.type, item.buffer = name, shape, schema.TensorType.FLOAT32, buffer
        return item

    buffers = [schema.BufferT() for _ in range(5)]
    buffers[2].data = list(weights.astype("<f4").tobytes())
    buffers[3].data = list(bias.astype("<f4").tobytes())
    outputs, inputs = weights.shape
    graph = schema.SubGraphT()
    graph.tensors = [
        tensor("x", [1, inputs], 1),
        tensor("w", [outputs, inputs], 2),
        tensor("b", [outputs], 3),
        tensor("y", [1, outputs], 4),
    ]
    graph.inputs, graph.outputs = [0], [3]
    operator = schema.OperatorT()
    operator.opcodeIndex, operator.inputs, operator.outputs = 0, [0, 1, 2], [3]
    operator.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
    operator.builtinOptions = schema.FullyConnectedOptionsT()
    graph.operators = [operator]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))


def test_tflite_outputs_under_emulation_match_numpy_on_the_host(userland: Userland, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    weights, bias = rng.standard_normal((3, 8)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    model = tmp_path / "dense.tflite"
    tiny_tflite(userland, model, weights, bias)
    x = rng.standard_normal((1, 8)).astype(np.float32)
    np.savez(tmp_path / "feeds.npz", x=x)
    result = agent_outputs(userland.python_command(), model, tmp_path / "feeds.npz", tmp_path / "arm.npz")
    assert result["runtime"] == "litert" and result["runtime_version"].startswith("2.")
    with np.load(tmp_path / "arm.npz") as got:
        np.testing.assert_allclose(got["arr_0"], x @ weights.T + bias, atol=1e-5)


def test_bench_on_qemu_a72_marks_results_emulated(userland: Userland, bundle_copy: Path) -> None:
    result = run_cli("bench", str(bundle_copy), "--device", "qemu-a72", "--runs", "3")
    assert result.returncode == 0, result.stderr
    [benchmark] = Bundle.open(bundle_copy).manifest.benchmarks
    assert benchmark.device == "qemu-a72" and benchmark.emulated is True
    assert (benchmark.runs, benchmark.warmup) == (3, 1)
    raw = json.loads((bundle_copy / benchmark.raw).read_text())
    assert (
        raw["emulated"] is True and raw["cpu"]["model"] == "Cortex-A72" and raw["cpu"]["machine"] == "aarch64"
    )
    assert "qemu-a72 (emulated) p50 ms" in result.stdout and "not the device's latency" in result.stdout


def test_an_emulated_pi_reachable_over_ssh(
    userland: Userland, sshd: Sshd, config_dir: Path, bundle_copy: Path, tmp_path: Path
) -> None:
    pytest.importorskip("paramiko")
    python = " ".join(userland.python_command())
    add_ssh_device("emulated-pi", sshd, tmp_path / "pi home", python=python, profile="qemu-a72")
    probe = run_cli("devices", "probe", "emulated-pi")
    assert probe.returncode == 0, probe.stderr
    assert "Cortex-A72 (aarch64)" in probe.stdout and "emulated" in probe.stdout
    result = run_cli("bench", str(bundle_copy), "--device", "emulated-pi", "--runs", "2", "--threads", "1")
    assert result.returncode == 0, result.stderr
    [benchmark] = Bundle.open(bundle_copy).manifest.benchmarks
    assert benchmark.device == "emulated-pi" and benchmark.emulated is True
    assert (tmp_path / "pi home" / "bundles" / "bundle" / "models" / "onnx-fp32.onnx").is_file()
