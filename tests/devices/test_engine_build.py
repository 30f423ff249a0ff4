"""`edgeship export --format tensorrt --device NAME` against a real sshd on 127.0.0.1.

The "Jetson" is an SSH device whose PATH holds stand-ins for `nvidia-smi` and `trtexec`
(tests/runtimes/fake_trtexec.py): TensorRT cannot exist on a machine without an NVIDIA GPU, so these check
the plumbing (push, the agent's build mode, fetch with sha256, parity on the device, promotion, cleanup,
refusals), not TensorRT. The real thing is `pytest -m gpu` (tests/export/test_tensorrt_gpu.py) on a GPU.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
from pathlib import Path

import pytest

from edgeship.bundle import Bundle, sha256_of
from edgeship.devices.engine_build import DeviceEngine, EngineBuild
from edgeship.devices.registry import get_device
from edgeship.errors import DeviceError
from edgeship.manifest import GpuTarget
from tests.conftest import run_cli
from tests.devices.conftest import Sshd, add_ssh_device
from tests.runtimes.fake_trtexec import GPU_NAME, MAGIC, install_fake_gpu

pytest.importorskip("paramiko")

LIVE = Path("bundles") / "bundle" / "models" / "tensorrt-fp32.engine"
STAGING = Path("bundles") / "bundle" / ".staging"


def add_jetson(name: str, sshd: Sshd, home: Path, fake_bin: Path | None, **knobs: str) -> Path:
    """An SSH device whose Python runs with `fake_bin` (fake nvidia-smi / trtexec) on PATH and the fake's
    knobs set; its cache folder (the timing cache) is inside `home`. Returns the trtexec call log."""
    log = home.parent / f"{name}-trtexec.jsonl"
    search = ":".join([*([str(fake_bin)] if fake_bin else []), "/usr/bin", "/bin"])
    variables = {"PATH": search, "XDG_CACHE_HOME": str(home / "cache"), "FAKE_TRTEXEC_LOG": str(log), **knobs}
    python = shlex.join(["env", *(f"{key}={value}" for key, value in variables.items()), sys.executable])
    add_ssh_device(name, sshd, home, python=python, profile="jetson-orin-nano")
    return log


def export_on(device: str, model: Path, bundle: Path, *extra: str) -> tuple[int, str, str]:
    result = run_cli(
        "export", str(model), "--out", str(bundle), "--format", "tensorrt", "--device", device,
        "--max-length", "16", "--max-batch", "4", *extra,
    )  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def snapshot(bundle: Path) -> dict[str, str]:
    """Every file of a bundle with its sha256 (to show that nothing was written)."""
    return {str(p.relative_to(bundle)): sha256_of(p) for p in sorted(bundle.rglob("*")) if p.is_file()}


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_the_engine_is_built_on_the_device_fetched_verified_and_checked_there(
    sshd: Sshd, config_dir: Path, bundle_copy: Path, distilbert_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "jetson home"
    log = add_jetson("jetson", sshd, home, install_fake_gpu(tmp_path / "bin"))
    code, _, stderr = export_on("jetson", distilbert_dir, bundle_copy)
    assert code == 0, stderr

    variant = Bundle.open(bundle_copy).manifest.variant("tensorrt-fp32")
    assert variant is not None and variant.format == "tensorrt"
    assert variant.built_for == GpuTarget(gpu=GPU_NAME, compute_capability="8.7", tensorrt="10.3.0")
    engine = bundle_copy / variant.file
    assert sha256_of(engine) == variant.sha256 == sha256_of(home / LIVE)  # fetched = what runs there
    assert engine.read_bytes().startswith(MAGIC)  # built there, by the device's trtexec
    assert not (home / STAGING).exists() and not list(home.rglob("*.partial"))
    options = variant.produced_by.options
    assert options["device"] == "jetson" and options["builder"] == "trtexec"
    assert options["profile"]["input_ids"] == {"min": [1, 1], "opt": [1, 16], "max": [4, 16]}
    cache = home / "cache" / "edgeship" / "tensorrt" / "sm87-trt10.3.0.timing"
    assert options["timing_cache"] == str(cache) and cache.is_file()
    assert variant.produced_by.tools["tensorrt"] == "10.3.0"
    # parity ran on the device, on all 16 parity inputs in batches of 4, and is recorded like a local build's
    assert variant.parity is not None and variant.parity.samples == 16
    assert variant.parity.max_abs_diff <= variant.parity.tolerance and variant.parity.argmax_agreement == 1.0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    [build] = [c for c in calls if any(a.startswith("--onnx=") for a in c)]
    assert "--minShapes=input_ids:1x1,attention_mask:1x1" in build
    assert "--maxShapes=input_ids:4x16,attention_mask:4x16" in build
    assert "--memPoolSize=workspace:2048" in build and not {"--fp16", "--int8"} & set(build)
    parity_runs = [c for c in calls if any(a.startswith("--exportOutput=") for a in c)]
    assert [next(a for a in c if a.startswith("--shapes=")) for c in parity_runs] == [
        "--shapes=input_ids:4x16,attention_mask:4x16"
    ] * 4

    bench = run_cli(
        "bench", str(bundle_copy), "--device", "jetson", "--variant", "tensorrt-fp32", "--runs", "5"
    )
    assert bench.returncode == 0, bench.stderr
    raw = json.loads((bundle_copy / "bench" / "jetson" / "tensorrt-fp32.json").read_text())
    assert raw["runtime"] == "tensorrt" and raw["runtime_version"] == "trtexec 10.3.0"
    assert raw["timing"] == "trtexec GPU compute time per inference" and raw["gpu"]["name"] == GPU_NAME
    assert sha256_of(home / LIVE) == variant.sha256


@pytest.mark.parametrize(
    ("fake", "message"),
    [
        ("none", "error: device 'pi' has no NVIDIA GPU to build tensorrt-fp16 on (hint: use a machine with"),
        ("gpu-only", "error: device 'pi' has a GPU (Orin (fake nvidia-smi)) but no TensorRT (Python package"),
    ],
)
def test_a_device_that_cannot_build_is_refused_in_one_line_before_any_work(
    sshd: Sshd,
    config_dir: Path,
    bundle_copy: Path,
    distilbert_dir: Path,
    tmp_path: Path,
    fake: str,
    message: str,
) -> None:
    fake_bin = None if fake == "none" else install_fake_gpu(tmp_path / "bin", trtexec=False)
    add_jetson("pi", sshd, tmp_path / "pi home", fake_bin)
    before = snapshot(bundle_copy)
    code, _, stderr = export_on("pi", distilbert_dir, bundle_copy, "--precision", "fp16")
    assert code == 1
    [line] = error_lines(stderr)
    assert line.startswith(message)
    assert snapshot(bundle_copy) == before
    assert not (tmp_path / "pi home" / "bundles").exists()
    new = tmp_path / "new-bundle"
    code, _, stderr = export_on("pi", distilbert_dir, new)
    assert code == 1 and len(error_lines(stderr)) == 1 and not new.exists()


def test_a_failed_build_says_why_in_one_line_and_leaves_nothing(
    sshd: Sshd, config_dir: Path, bundle_copy: Path, distilbert_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "jetson home"
    add_jetson("jetson", sshd, home, install_fake_gpu(tmp_path / "bin"), FAKE_TRTEXEC_FAIL="1")
    before = snapshot(bundle_copy)
    code, _, stderr = export_on("jetson", distilbert_dir, bundle_copy)
    assert code == 1
    [line] = error_lines(stderr)
    assert line.startswith(
        "error: building tensorrt-fp32.engine on device 'jetson' failed: agent: trtexec could"
    )
    assert "Error Code 4: Internal Error (input_ids: dynamic input is missing dimensions" in line
    assert "(hint: that line is TensorRT's: raise --workspace-mb (used 2048)" in line
    assert snapshot(bundle_copy) == before
    assert not (home / STAGING).exists() and not (home / LIVE).exists()


def test_an_engine_that_disagrees_on_the_device_is_neither_kept_nor_promoted(
    sshd: Sshd, config_dir: Path, bundle_copy: Path, distilbert_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "jetson home"
    add_jetson("jetson", sshd, home, install_fake_gpu(tmp_path / "bin"), FAKE_TRTEXEC_SKEW="0.5")
    before = snapshot(bundle_copy)
    code, _, stderr = export_on("jetson", distilbert_dir, bundle_copy)
    assert code == 1
    [line] = error_lines(stderr)
    assert "tensorrt export of DistilBertForSequenceClassification disagrees with PyTorch on jetson" in line
    assert "max abs diff 0.5" in line
    assert snapshot(bundle_copy) == before
    assert not (home / STAGING).exists() and not (home / LIVE).exists()


def test_a_fetched_engine_with_another_sha256_is_refused(tmp_path: Path) -> None:
    """The device reported one sha256 and another file arrived (a corrupted copy): nothing is kept."""
    on_device = tmp_path / "device" / "tensorrt-fp16.engine"
    on_device.parent.mkdir()
    on_device.write_bytes(b"the engine as the device wrote it")
    reported = hashlib.sha256(b"something else").hexdigest()
    target = GpuTarget(gpu="Orin", compute_capability="8.7", tensorrt="10.3.0")
    engine = DeviceEngine(str(on_device), reported, on_device.stat().st_size, target, {})
    local = tmp_path / "bundle" / "tensorrt-fp16.engine"
    local.parent.mkdir()
    build = EngineBuild(get_device("local"), "bundles/bundle", tmp_path)
    with pytest.raises(DeviceError) as error:
        build.fetch(engine, local)
    assert error.value.one_line().startswith(
        f"error: the engine fetched from device 'local' has sha256 {sha256_of(on_device)[:12]}..., the device "
        f"reported {reported[:12]}...; nothing was written (hint:"
    )
    assert list(local.parent.iterdir()) == []
    build.fetch(DeviceEngine(str(on_device), sha256_of(on_device), 1, target, {}), local)
    assert local.read_bytes() == on_device.read_bytes()
