"""Local benchmarks through the standalone agent, and the agent's own contract."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgeship.bundle import Bundle
from tests.conftest import run_cli

AGENT = Path(__file__).resolve().parents[2] / "runtimes" / "agent.py"
# TensorRT mode: tensorrt drives the engine, torch only provides CUDA buffers and events.
AGENT_ALLOWED_IMPORTS = {"numpy", "onnxruntime", "ai_edge_litert", "tflite_runtime", "tensorrt", "torch"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, distilbert_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("bench") / "distilbert"
    result = run_cli("export", str(distilbert_dir), "--out", str(out), "--max-length", "24")
    assert result.returncode == 0, result.stderr
    return out


def test_bench_fills_the_manifest_and_keeps_raw_results(bundle: Path) -> None:
    result = run_cli(
        "bench",
        str(bundle),
        "--device",
        "local",
        "--threads",
        "1",
        "--runs",
        "7",
        "--warmup",
        "2",
        "--batch",
        "2",
    )
    assert result.returncode == 0, result.stderr
    [benchmark] = Bundle.open(bundle).manifest.benchmarks
    assert (benchmark.variant, benchmark.device, benchmark.runtime) == ("onnx-fp32", "local", "onnxruntime")
    assert (benchmark.threads, benchmark.batch, benchmark.runs, benchmark.warmup) == (1, 2, 7, 2)
    assert benchmark.input_shapes == {"input_ids": [2, 24], "attention_mask": [2, 24]}
    stats = benchmark.latency_ms
    assert 0 < stats.min <= stats.p50 <= stats.p90 <= stats.p99
    assert stats.std >= 0 and benchmark.emulated is False
    raw = json.loads((bundle / benchmark.raw).read_text())
    assert raw["runs"] == 7 and raw["cpu"]["cores"] >= 1 and raw["peak_rss_mb"] > 0
    assert "onnx-fp32" in result.stdout and "p50 ms" in result.stdout


def test_bench_again_replaces_the_same_setting_and_adds_new_ones(bundle: Path) -> None:
    for threads in ("1", "2"):
        result = run_cli("bench", str(bundle), "--threads", threads, "--runs", "3", "--batch", "2")
        assert result.returncode == 0, result.stderr
    settings = sorted((b.threads, b.batch) for b in Bundle.open(bundle).manifest.benchmarks)
    assert settings == [(1, 2), (2, 2)]


def test_bench_refuses_an_altered_artifact(bundle: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    model = copy / "models" / "onnx-fp32.onnx"
    model.write_bytes(model.read_bytes()[:-10])
    result = run_cli("bench", str(copy), "--runs", "2")
    assert result.returncode == 1
    assert "does not match the sha256" in result.stderr


def test_unknown_variant_and_device_are_named(bundle: Path) -> None:
    result = run_cli("bench", str(bundle), "--variant", "tflite-int8")
    assert (
        result.returncode == 1
        and "no variant 'tflite-int8'" in result.stderr
        and "onnx-fp32" in result.stderr
    )
    result = run_cli("bench", str(bundle), "--device", "rpi9")
    assert result.returncode == 1 and "unknown device 'rpi9'" in result.stderr


def test_agent_imports_only_stdlib_numpy_and_one_runtime() -> None:
    tree = ast.parse(AGENT.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party <= AGENT_ALLOWED_IMPORTS, third_party


def test_agent_runs_as_a_lone_file_outside_the_package(bundle: Path, tmp_path: Path) -> None:
    lone = tmp_path / "agent.py"
    lone.write_text(AGENT.read_text())
    inputs = [
        {"name": "input_ids", "dtype": "int64", "shape": [1, 8], "low": 0, "high": 30522},
        {"name": "attention_mask", "dtype": "int64", "shape": [1, 8], "low": 1, "high": 2},
    ]
    completed = subprocess.run(
        [
            sys.executable,
            "-I",
            str(lone),
            "bench",
            "--format",
            "onnx",
            "--model",
            str(bundle / "models" / "onnx-fp32.onnx"),
            "--inputs",
            json.dumps(inputs),
            "--runs",
            "4",
            "--warmup",
            "1",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
        timeout=300,
    )
    result = json.loads(completed.stdout)
    assert result["runtime"] == "onnxruntime" and result["runs"] == 4
    assert result["input_shapes"] == {"input_ids": [1, 8], "attention_mask": [1, 8]}
    assert set(result["latency_ms"]) == {"p50", "p90", "p99", "mean", "std", "min"}


def test_agent_parses_as_python_3_9() -> None:
    ast.parse(AGENT.read_text(), feature_version=(3, 9))


def bare_venv(folder: Path, *packages: str) -> str:
    """A venv holding only `packages`, linked from this environment (no network); returns its python."""
    import importlib.util

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    [site] = (folder / "lib").glob("python3*/site-packages")
    for package in packages:
        spec = importlib.util.find_spec(package)
        assert spec and spec.origin
        (site / package).symlink_to(Path(spec.origin).parent)
        for libs in Path(spec.origin).parent.parent.glob(f"{package}.libs"):
            (site / libs.name).symlink_to(libs)
    return str(folder / "bin" / "python")


def run_lone_agent(python: str, folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    """The agent copied alone into `folder` and run there."""
    lone = folder / "agent.py"
    lone.write_text(AGENT.read_text())
    command = [python, str(lone), *arguments]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=folder, timeout=300)


def test_agent_runs_in_a_bare_venv_with_only_numpy_and_onnxruntime(bundle: Path, tmp_path: Path) -> None:
    python = bare_venv(tmp_path / "bare", "numpy", "onnxruntime")
    edgeship_visible = subprocess.run(
        [python, "-c", "import edgeship"], capture_output=True, cwd=tmp_path, check=False
    )
    assert edgeship_visible.returncode != 0
    facts = json.loads(run_lone_agent(python, tmp_path, "probe").stdout)
    assert set(facts["runtimes"]) == {"onnxruntime"} and facts["free_disk_mb"] > 0
    inputs = [
        {"name": "input_ids", "dtype": "int64", "shape": [1, 8], "low": 0, "high": 30522},
        {"name": "attention_mask", "dtype": "int64", "shape": [1, 8], "low": 1, "high": 2},
    ]
    model = str(bundle / "models" / "onnx-fp32.onnx")
    completed = run_lone_agent(
        python,
        tmp_path,
        "bench",
        "--format",
        "onnx",
        "--model",
        model,
        "--inputs",
        json.dumps(inputs),
        "--runs",
        "3",
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["runs"] == 3 and result["load_ms"] > 0 and result["peak_rss_mb"] > 10
    assert result["emulated"] is False and result["python"] == facts["python"]


def test_agent_without_the_runtime_exits_3_and_says_what_to_install(bundle: Path, tmp_path: Path) -> None:
    python = bare_venv(tmp_path / "numpy-only", "numpy")
    inputs = json.dumps([{"name": "input_ids", "dtype": "int64", "shape": [1, 4]}])
    model = str(bundle / "models" / "onnx-fp32.onnx")
    completed = run_lone_agent(
        python, tmp_path, "bench", "--format", "onnx", "--model", model, "--inputs", inputs
    )
    assert completed.returncode == 3 and "onnxruntime is not installed here" in completed.stderr
