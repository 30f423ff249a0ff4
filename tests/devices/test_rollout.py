"""Staged (canary) rollout over SSH devices on a real sshd at 127.0.0.1: stage, check, promote, stop."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeship.bundle import Bundle, sha256_of
from edgeship.pipeline.rollout import compare_outputs
from tests.conftest import run_cli
from tests.devices.conftest import Sshd, add_ssh_device
from tests.runtimes.test_bench import bare_venv

pytest.importorskip("paramiko")

LIVE = Path("bundles") / "bundle" / "models" / "onnx-fp32.onnx"  # both bundles are folders named "bundle"
STAGING = Path("bundles") / "bundle" / ".staging"


@pytest.fixture(scope="module")
def newer_bundle(tmp_path_factory: pytest.TempPathFactory, bert_dir: Path) -> Path:
    """Another model exported under the same folder name: a new version of the tiny bundle's onnx-fp32."""
    out = tmp_path_factory.mktemp("newer") / "bundle"
    result = run_cli("export", str(bert_dir), "--out", str(out), "--max-length", "16")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture()
def newer_copy(tmp_path: Path, newer_bundle: Path) -> Path:
    """A private copy of the newer bundle (a rollout writes benchmarks into it)."""
    copy = tmp_path / "newer" / "bundle"
    shutil.copytree(newer_bundle, copy)
    return copy


def variant_sha(bundle: Path) -> str:
    """sha256 of the bundle's only variant."""
    [variant] = Bundle.open(bundle).manifest.variants
    return variant.sha256


def error_lines(stderr: str) -> list[str]:
    """The lines the CLI printed as errors."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_a_canary_rollout_checks_the_canary_then_promotes_everywhere(
    sshd: Sshd, config_dir: Path, bundle_copy: Path, tmp_path: Path
) -> None:
    homes = {name: tmp_path / f"{name} home" for name in ("pi1", "pi2", "pi3")}
    for name, home in homes.items():
        add_ssh_device(name, sshd, home)
    result = run_cli("push", str(bundle_copy), "--devices", "pi1,pi2", "--devices", "pi3", "--canary", "1")
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 3}
    assert "canary" in rows["pi1"] and "promoted" in rows["pi1"]
    assert all("rest" in rows[name] and "promoted" in rows[name] for name in ("pi2", "pi3"))
    expected = variant_sha(bundle_copy)
    for home in homes.values():
        assert sha256_of(home / LIVE) == expected
        assert not (home / STAGING).exists() and not list(home.rglob("*.partial"))
    [benchmark] = Bundle.open(bundle_copy).manifest.benchmarks
    assert benchmark.device == "pi1" and benchmark.variant == "onnx-fp32" and benchmark.batch == 1
    assert (benchmark.runs, benchmark.warmup) == (50, 5) and benchmark.latency_ms.p50 > 0
    raw = json.loads((bundle_copy / benchmark.raw).read_text())
    assert raw["model"] == "onnx-fp32.onnx" and raw["input_shapes"]["input_ids"] == [1, 16]
    assert f"{benchmark.latency_ms.p50:.2f}" in rows["pi1"]


def test_a_canary_without_the_runtime_stops_the_rollout_and_keeps_the_old_files(
    sshd: Sshd, config_dir: Path, bundle_copy: Path, newer_copy: Path, tmp_path: Path
) -> None:
    numpy_only = bare_venv(tmp_path / "numpy-only", "numpy")
    homes = {name: tmp_path / f"{name} home" for name in ("pi1", "pi2", "pi3")}
    add_ssh_device("pi1", sshd, homes["pi1"], python=numpy_only)
    add_ssh_device("pi2", sshd, homes["pi2"])
    add_ssh_device("pi3", sshd, homes["pi3"])
    for name in homes:  # the previous version, pushed the single-device way
        assert run_cli("push", str(bundle_copy), "--device", name).returncode == 0
    old = variant_sha(bundle_copy)
    assert old != variant_sha(newer_copy)

    result = run_cli("push", str(newer_copy), "--devices", "pi1,pi2,pi3", "--canary", "1")
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert line.startswith("error: rollout stopped at canary 'pi1': device 'pi1' cannot run onnx-fp32")
    assert "onnxruntime is not installed there" in line and "(hint: install onnxruntime" in line
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 3}
    assert "failed: device 'pi1' cannot run onnx-fp32" in rows["pi1"]
    assert "not reached" in rows["pi2"] and "not reached" in rows["pi3"]
    for home in homes.values():
        assert sha256_of(home / LIVE) == old
        assert not (home / STAGING).exists()
    assert Bundle.open(newer_copy).manifest.benchmarks == []


@pytest.mark.qemu
def test_a_canary_whose_outputs_differ_from_this_machine_is_not_promoted(
    sshd: Sshd, config_dir: Path, bundle_copy: Path, newer_copy: Path, tmp_path: Path
) -> None:
    """A real mismatch: an emulated Cortex-A72 (arm64 onnxruntime kernels) does not reproduce x86 outputs
    bit for bit; a zero tolerance catches it after the files were staged and run there."""
    from edgeship.devices.userland import ensure_userland

    emulated_python = " ".join(ensure_userland().python_command())
    homes = {"arm": tmp_path / "arm home", "pi": tmp_path / "pi home"}
    add_ssh_device("arm", sshd, homes["arm"], python=emulated_python, profile="qemu-a72")
    add_ssh_device("pi", sshd, homes["pi"])
    for name in homes:
        assert run_cli("push", str(bundle_copy), "--device", name).returncode == 0
    old = variant_sha(bundle_copy)

    result = run_cli("push", str(newer_copy), "--devices", "arm,pi", "--max-parity-diff", "0")
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert line.startswith("error: rollout stopped at canary 'arm': parity of onnx-fp32: max |Δ| ")
    assert "exceeds the tolerance 0 (hint:" in line
    measured = float(line.split("max |Δ| ")[1].split()[0])
    # a genuine, tiny cross-architecture difference; and the staged new file is what ran there: the old
    # live file (DistilBERT, 2 labels) would not even have the 3-label BERT reference's shape
    assert 0 < measured < 1e-4
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 3}
    assert "not reached" in rows["pi"]
    for home in homes.values():
        assert sha256_of(home / LIVE) == old
        assert not (home / STAGING).exists() and not list(home.rglob("*.partial"))
    assert Bundle.open(newer_copy).manifest.benchmarks == []


def test_compare_outputs_on_real_model_outputs(tiny_bundle: Path) -> None:
    from edgeship.export.parity import load_reference
    from edgeship.runtimes.base import open_session

    bundle = Bundle.open(tiny_bundle)
    [variant] = bundle.manifest.variants
    assert bundle.manifest.parity_reference is not None and variant.parity is not None
    inputs, torch_logits = load_reference(bundle.path(bundle.manifest.parity_reference))
    rows = {name: array[:4] for name, array in inputs.items()}
    onnx = open_session(bundle.path(variant.file), "onnx", threads=1).run(rows)
    assert compare_outputs(onnx, [array.copy() for array in onnx]) == 0.0
    against_torch = compare_outputs(onnx, [torch_logits[:4]])
    assert 0 < against_torch <= variant.parity.tolerance
    with pytest.raises(ValueError, match="shape"):
        compare_outputs(onnx, [torch_logits[:3]])
    with pytest.raises(ValueError, match="2 outputs"):
        compare_outputs([*onnx, *onnx], [torch_logits[:4]])
    broken = onnx[0].copy()
    broken[0, 0] = np.nan
    assert compare_outputs([broken], onnx) == float("inf")


def test_rollout_options_are_checked_before_any_device_is_touched(bundle_copy: Path) -> None:
    too_many = run_cli("push", str(bundle_copy), "--devices", "local", "--canary", "2")
    assert too_many.returncode == 1 and "error: --canary 2 with 1 device(s)" in too_many.stderr
    twice = run_cli("push", str(bundle_copy), "--devices", "local,local")
    assert twice.returncode == 1 and "device local is listed twice" in twice.stderr
    both = run_cli("push", str(bundle_copy), "--device", "local", "--devices", "local")
    assert both.returncode == 1 and "one of --device NAME or --devices" in both.stderr
    assert not (bundle_copy / "bench").exists()
