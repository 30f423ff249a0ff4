"""`edgeship debug --device`: the agent on an SSH device saves every layer's tensor, this machine compares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeship.bundle import Bundle
from tests.conftest import run_cli
from tests.devices.conftest import Sshd, add_ssh_device
from tests.runtimes.test_bench import bare_venv

pytest.importorskip("paramiko")


def test_layers_measured_on_the_device_match_the_same_run_here(
    sshd: Sshd, config_dir: Path, bundle_copy: Path, tmp_path: Path
) -> None:
    assert run_cli("quantize", str(bundle_copy), "--scheme", "int8-dynamic").returncode == 0
    add_ssh_device("pi", sshd, tmp_path / "device")
    args = ["debug", str(bundle_copy), "--variant", "onnx-int8-dynamic", "--samples", "4"]
    remote = run_cli(*args, "--device", "pi")
    assert remote.returncode == 0, remote.stderr
    assert "onnx-int8-dynamic against onnx-fp32 on pi" in remote.stdout
    assert run_cli(*args).returncode == 0
    records = {record.device: record for record in Bundle.open(bundle_copy).manifest.debug}
    assert set(records) == {"pi", "local"}
    on_device, here = records["pi"], records["local"]
    assert [layer.layer for layer in on_device.layers] == [layer.layer for layer in here.layers]
    assert len(here.layers) >= 6
    for device_layer, local_layer in zip(on_device.layers, here.layers, strict=True):
        assert device_layer.snr_db == pytest.approx(local_layer.snr_db, abs=0.01)  # one CPU, one runtime
    assert json.loads((bundle_copy / on_device.raw).read_text())["device"] == "pi"
    staged = sorted(p.name for p in (tmp_path / "device").rglob("*") if p.is_file() and "debug" in p.parts)
    assert "onnx-int8-dynamic-tensors.npz" in staged and "onnx-int8-dynamic-inputs.npz" in staged


def test_a_device_without_the_runtime_is_told_before_anything_is_sent(
    sshd: Sshd, config_dir: Path, bundle_copy: Path, tmp_path: Path
) -> None:
    python = bare_venv(tmp_path / "numpy-only", "numpy")
    add_ssh_device("pi", sshd, tmp_path / "device", python=str(python))
    result = run_cli(
        "debug", str(bundle_copy), "--variant", "onnx-fp32", "--device", "pi", "--model", "nowhere/x"
    )
    assert result.returncode == 1
    assert "device 'pi' cannot run onnx-fp32: onnxruntime is not installed there" in result.stderr
    assert not Bundle.open(bundle_copy).manifest.debug
