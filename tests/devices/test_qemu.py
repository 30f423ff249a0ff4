"""The emulated Cortex-A72 (qemu-aarch64-static, arm64 userland cached under EDGESHIP_CACHE)."""

from __future__ import annotations

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
    artifact_format = model.suffix.removeprefix(".")
    command = [*python, str(agent_path()), "bench", "--format", artifact_format, "--model", str(model)]
    command += ["--input-file", str(feeds)]
    command += ["--save-outputs", str(out), "--runs", "2", "--warmup", "0", "--threads", "1"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr
    return dict(json.loads(completed.stdout))


def test_the_emulated_cpu_is_an_a72_that_refuses_armv82_dot_product(userland: Userland) -> None:
    refused = emulated(userland, "-c", SDOT_PROBE)
    assert refused.returncode == -4, (refused.returncode, refused.stderr)  # SIGILL
    allowed = emulated(userland, "-c", SDOT_PROBE, cpu="cortex-a76")
    assert allowed.returncode == 0 and "sdot ran" in allowed.stdout
    probe = emulated(userland, str(agent_path()), "probe")
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


@pytest.fixture(scope="module")
def tflite_text_models(tmp_path_factory: pytest.TempPathFactory, distilbert_dir: Path) -> dict[str, Path]:
    """The tiny DistilBERT converted by litert-torch (int32 ids, seq 16) and its full-integer int8 file."""
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_quantizer")
    from edgeship.compress.quantize.registry import get_quantizer
    from edgeship.compress.quantize.spec import QuantizationSpec
    from edgeship.export.registry import ExportOptions, get_exporter
    from edgeship.sources.loading import load_model
    from edgeship.tasks.base import sample_inputs

    directory = tmp_path_factory.mktemp("tflite-arm")
    loaded = load_model(str(distilbert_dir))
    fp32, int8 = directory / "fp32.tflite", directory / "int8-static.tflite"
    get_exporter("tflite").export(loaded, fp32, ExportOptions(max_length=16))
    calibration = [sample_inputs(loaded, samples=16, max_length=16, seed=3)]
    spec = QuantizationSpec(scheme="int8-static")
    get_quantizer("tflite", "int8-static").quantize(fp32, int8, spec, calibration)
    return {"fp32": fp32, "int8-static": int8}


@pytest.mark.parametrize(("precision", "tolerance"), [("fp32", 1e-4), ("int8-static", 0.05)])
def test_litert_text_models_under_emulation_match_the_host_session(
    userland: Userland, tflite_text_models: dict[str, Path], tmp_path: Path, precision: str, tolerance: float
) -> None:
    from edgeship.runtimes.litert_session import LiteRtSession

    model = tflite_text_models[precision]
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 30522, size=(1, 16)).astype(
        np.int64
    )  # int64 as tokenizers give; the file takes int32
    np.savez(tmp_path / "feeds.npz", input_ids=ids, attention_mask=np.ones((1, 16), dtype=np.int64))
    result = agent_outputs(userland.python_command(), model, tmp_path / "feeds.npz", tmp_path / "arm.npz")
    assert result["runtime"] == "litert" and result["runtime_version"].startswith("2.")
    assert result["cpu"]["model"] == "Cortex-A72"
    host = LiteRtSession(model, threads=1)
    assert host.input_details["input_ids"]["dtype"] == np.int32
    assert host.output_details["logits"]["dtype"] == (np.int8 if precision == "int8-static" else np.float32)
    [expected] = host.run({"input_ids": ids, "attention_mask": np.ones_like(ids)})
    with np.load(tmp_path / "arm.npz") as got:
        arm = got["arr_0"]
    # int8-static writes int8 logits: the agent dequantizes them with the output's scale, as the host does
    assert arm.dtype == np.float32 and arm.shape == (1, 2)
    np.testing.assert_allclose(arm, expected, atol=tolerance)


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
