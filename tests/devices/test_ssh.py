"""SSH devices against a real sshd on 127.0.0.1: push, verify, retry, host keys, timeouts, quoting."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from edgeship.bundle import Bundle, sha256_of
from edgeship.devices.known_hosts import known_keys, with_host_key
from edgeship.devices.ssh import SshConnection
from edgeship.errors import DeviceError
from tests.conftest import run_cli
from tests.devices.conftest import Sshd, add_ssh_device, entry_for
from tests.runtimes.test_bench import bare_venv

pytest.importorskip("paramiko")


def test_push_uploads_verifies_and_skips_unchanged_files(
    sshd: Sshd, config_dir: Path, bundle_copy: Path, tmp_path: Path
) -> None:
    device_dir = tmp_path / "device"
    add_ssh_device("pi", sshd, device_dir)
    first = run_cli("push", str(bundle_copy), "--device", "pi")
    assert first.returncode == 0, first.stderr
    assert "onnx-fp32" in first.stdout and "sent, sha256 verified" in first.stdout
    landed = device_dir / "bundles" / "bundle" / "models" / "onnx-fp32.onnx"
    [variant] = Bundle.open(bundle_copy).manifest.variants
    assert sha256_of(landed) == variant.sha256 and not list(landed.parent.glob("*.partial"))
    again = run_cli("push", str(bundle_copy), "--device", "pi")
    assert again.returncode == 0 and "unchanged on the device, skipped" in again.stdout
    landed.write_bytes(b"damaged on the device")
    repaired = run_cli("push", str(bundle_copy), "--device", "pi")
    assert "sent, sha256 verified" in repaired.stdout and sha256_of(landed) == variant.sha256


def test_a_connection_killed_mid_upload_is_retried_and_the_file_verified(sshd: Sshd, tmp_path: Path) -> None:
    payload = tmp_path / "weights.bin"
    payload.write_bytes(hashlib.sha256(b"seed").digest() * (48 * 1024 * 1024 // 32))  # 48 MB
    remote = tmp_path / "device" / "weights.bin"
    connection = SshConnection(entry_for(sshd), "pi", backoff=0.1)
    killed: list[int] = []

    def kill_when_half_sent() -> None:
        partial = remote.with_name("weights.bin.partial")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if partial.exists() and partial.stat().st_size > 8 * 1024 * 1024:
                killed.append(sshd.drop_connections())
                return
            time.sleep(0.002)

    killer = threading.Thread(target=kill_when_half_sent)
    killer.start()
    try:
        assert connection.upload(payload, str(remote), sha256_of(payload)) is True
    finally:
        killer.join()
        connection.close()
    assert killed and killed[0] >= 1, "the upload finished before the connection could be dropped"
    assert sha256_of(remote) == sha256_of(payload)
    assert not remote.with_name("weights.bin.partial").exists()


def test_an_unknown_or_changed_host_key_is_refused_with_its_fingerprint(
    sshd: Sshd, config_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "host.pub").write_text(sshd.host_key_pub)
    real = subprocess.run(
        ["ssh-keygen", "-lf", str(tmp_path / "host.pub")], capture_output=True, text=True, check=True
    ).stdout.split()[1]  # OpenSSH's own fingerprint of the server's key
    impostor = tmp_path / "impostor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(impostor)], check=True)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {impostor.with_suffix('.pub').read_text()}")
    add_ssh_device("pi", sshd, tmp_path / "device", known_hosts=known_hosts)
    again = run_cli("devices", "add", "pi", "--ssh", "x@127.0.0.1", "--profile", "rpi4")
    assert again.returncode == 1 and "device 'pi' already exists" in again.stderr
    changed = run_cli("devices", "probe", "pi")
    assert changed.returncode == 1 and "changed" in changed.stderr and real in changed.stderr
    assert "man-in-the-middle" in changed.stderr and "ssh-keygen -R" in changed.stderr

    known_hosts.write_text("")
    unknown = run_cli("devices", "probe", "pi")
    assert unknown.returncode == 1 and "is not in" in unknown.stderr and real in unknown.stderr
    assert f"edgeship devices trust pi {real}" in unknown.stderr

    wrong = run_cli("devices", "trust", "pi", "SHA256:" + "A" * 43)
    assert wrong.returncode == 1 and real in wrong.stderr and known_hosts.read_text() == ""
    trusted = run_cli("devices", "trust", "pi", real)
    assert trusted.returncode == 0, trusted.stderr
    probe = run_cli("devices", "probe", "pi")
    assert probe.returncode == 0, probe.stderr
    assert "onnxruntime" in probe.stdout and "free disk" in probe.stdout


def test_a_remote_command_past_its_timeout_is_killed(sshd: Sshd) -> None:
    connection = SshConnection(entry_for(sshd), "pi")
    started = time.monotonic()
    completed = connection.run(["sleep", "30"], timeout=1)
    elapsed = time.monotonic() - started
    connection.close()
    assert completed.returncode == 124 and elapsed < 5


def test_a_benchmark_past_the_device_timeout_is_reported(
    sshd: Sshd, config_dir: Path, bundle_copy: Path, tmp_path: Path
) -> None:
    add_ssh_device("pi", sshd, tmp_path / "device", "--timeout", "2")
    result = run_cli("bench", str(bundle_copy), "--device", "pi", "--runs", "1000000", "--threads", "1")
    assert result.returncode == 1
    assert "on device 'pi' timed out after 2 s" in result.stderr and "--runs" in result.stderr


def test_a_device_without_the_runtime_is_told_to_install_it(
    sshd: Sshd, config_dir: Path, bundle_copy: Path, tmp_path: Path
) -> None:
    python = bare_venv(tmp_path / "numpy-only", "numpy")
    add_ssh_device("pi", sshd, tmp_path / "device", python=str(python))
    probe = run_cli("devices", "probe", "pi")
    assert probe.returncode == 0 and "runtimes    none" in probe.stdout
    result = run_cli("bench", str(bundle_copy), "--device", "pi", "--runs", "2")
    assert result.returncode == 1
    assert "device 'pi' cannot run onnx-fp32: onnxruntime is not installed there" in result.stderr
    assert "install onnxruntime on the device: python3 -m pip install onnxruntime" in result.stderr


def test_a_device_with_only_tflite_runtime_is_told_which_variants_it_cannot_run(
    sshd: Sshd, config_dir: Path, bundle_copy: Path, tflite_runtime_python: Path, tmp_path: Path
) -> None:
    bundle = Bundle.open(bundle_copy)
    [onnx] = bundle.manifest.variants
    for precision in ("fp32", "int8-dynamic"):
        file = f"models/tflite-{precision}.tflite"
        bundle.path(file).write_bytes(b"TFL3 placeholder: refused before it is read")
        bundle.manifest.put_variant(
            onnx.model_copy(
                update={
                    "id": f"tflite-{precision}",
                    "format": "tflite",
                    "precision": precision,
                    "file": file,
                    "bytes": bundle.path(file).stat().st_size,
                    "sha256": sha256_of(bundle.path(file)),
                }
            )
        )
    bundle.save()
    add_ssh_device("pi", sshd, tmp_path / "device", python=str(tflite_runtime_python))
    probe = run_cli("devices", "probe", "pi")
    assert probe.returncode == 0, probe.stderr
    assert "tflite-runtime 2.14.0" in probe.stdout and "install ai-edge-litert" in probe.stdout
    result = run_cli(
        "bench",
        str(bundle_copy),
        "--device",
        "pi",
        "--variant",
        "tflite-fp32",
        "--variant",
        "tflite-int8-dynamic",
    )
    assert result.returncode == 1
    assert (
        "has only tflite-runtime 2.14.0, which cannot run tflite-fp32, tflite-int8-dynamic" in result.stderr
    )
    assert "install ai-edge-litert on the device" in result.stderr


def test_paths_with_spaces_and_shell_metacharacters_survive(
    sshd: Sshd, config_dir: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    import shutil

    awkward = "bundle with spaces $(touch PWNED) `touch PWNED2`; echo 'q' \"dq\" & |"
    bundle = tmp_path / awkward
    shutil.copytree(tiny_bundle, bundle)
    device_dir = tmp_path / "device dir $HOME ;rm -rf x"
    add_ssh_device("pi", sshd, device_dir)
    result = run_cli("bench", str(bundle), "--device", "pi", "--runs", "3", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert (device_dir / "bundles" / awkward / "models" / "onnx-fp32.onnx").is_file()
    assert (device_dir / "agent.py").is_file()
    [benchmark] = Bundle.open(bundle).manifest.benchmarks
    assert benchmark.device == "pi" and benchmark.runs == 3 and benchmark.emulated is False
    raw = json.loads((bundle / benchmark.raw).read_text())
    assert raw["model"] == "onnx-fp32.onnx" and raw["latency_ms"]["min"] > 0
    assert not list(Path.home().glob("PWNED*")) and not list(tmp_path.rglob("PWNED*"))


def test_connection_errors_are_device_errors(sshd: Sshd, tmp_path: Path) -> None:
    wrong_key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True)
    connection = SshConnection(entry_for(sshd).model_copy(update={"key": str(wrong_key)}), "pi")
    with pytest.raises(DeviceError, match="refused the login"):
        connection.run(["true"], timeout=5)


def test_a_file_name_with_a_backslash_and_a_newline_is_hashed_and_sent_once(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import paramiko

    payload = tmp_path / "model.onnx"
    payload.write_bytes(b"weights" * 4096)
    remote = tmp_path / "device" / "we\\ird\nname.onnx"
    sent: list[str] = []
    put = paramiko.SFTPClient.put

    def counted_put(sftp: paramiko.SFTPClient, local: str, *rest: object, **options: object) -> object:
        sent.append(local)
        return put(sftp, local, *rest, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(paramiko.SFTPClient, "put", counted_put)
    connection = SshConnection(entry_for(sshd), "pi")
    try:
        assert connection.upload(payload, str(remote), sha256_of(payload)) is True
        assert connection.remote_sha256(str(remote)) == sha256_of(payload)
        assert connection.upload(payload, str(remote), sha256_of(payload)) is False
    finally:
        connection.close()
    assert sent == [str(payload)] and sha256_of(remote) == sha256_of(payload)


def key_b64(name: str) -> str:
    """A stand-in key blob (known_hosts lines are matched by their bytes)."""
    return base64.b64encode(f"key {name}".encode()).decode()


def test_known_hosts_lines_match_as_openssh_does(tmp_path: Path) -> None:
    hashed = tmp_path / "known_hosts"
    hashed.write_text(f"[10.0.0.5]:2222 ssh-ed25519 {key_b64('a')}\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(hashed)], check=True, capture_output=True)
    text = hashed.read_text() + (
        f"*.corp.example,!bad.corp.example ssh-ed25519 {key_b64('b')}\n"
        f"Pi.Local ssh-ed25519 {key_b64('c')} comment\n"
        f"@cert-authority * ssh-ed25519 {key_b64('d')}\n"
        f"@revoked pi.local ssh-ed25519 {key_b64('e')}\n"
        f"@unknown-marker pi.local ssh-ed25519 {key_b64('f')}\n"
        "pi.local ssh-ed25519 not*base64\n   # indented comment\nnot a key line\n"
    )

    def keys(name: str) -> tuple[list[bytes], list[bytes]]:
        found = known_keys(text, name)
        return [line.key for line in found.trusted], [line.key for line in found.revoked]

    assert keys("[10.0.0.5]:2222") == ([b"key a"], [])
    assert keys("10.0.0.5") == ([], [])
    assert keys("build.corp.example") == ([b"key b"], [])
    assert keys("bad.corp.example") == ([], [])
    assert keys("pi.local") == ([b"key c"], [b"key e"])


def test_setting_a_host_key_keeps_a_hashed_name_hashed_and_other_lines_as_they_are(tmp_path: Path) -> None:
    hashed = tmp_path / "known_hosts"
    hashed.write_text(f"[10.0.0.5]:2222 ssh-ed25519 {key_b64('old')}\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(hashed)], check=True, capture_output=True)
    hosts = hashed.read_text().split()[0]
    others = f"# kept\r\n@revoked * ssh-ed25519 {key_b64('x')}\n[10.0.0.5]:2222 ssh-rsa {key_b64('rsa')}\n"
    text = f"{others}{hosts} ssh-ed25519 {key_b64('old')}\r\n{hosts} ssh-ed25519 {key_b64('dup')}\n"
    updated = with_host_key(text, "[10.0.0.5]:2222", "ssh-ed25519", b"key new")
    assert updated == f"{others}{hosts} ssh-ed25519 {key_b64('new')}\r\n"
    assert (
        with_host_key("# only\n", "pi", "ssh-ed25519", b"key new")
        == f"# only\npi ssh-ed25519 {key_b64('new')}\n"
    )
    assert with_host_key("# no newline", "pi", "ssh-ed25519", b"k") == "# no newline\npi ssh-ed25519 aw==\n"
