"""A real sshd on 127.0.0.1 (throwaway keys, private /run), device config in a temp dir, a tiny bundle."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgeship.devices.config import DeviceEntry
from tests.conftest import run_cli

SSHD = Path("/usr/sbin/sshd")


@dataclass
class Sshd:
    """A running sshd and the files a client needs to reach it."""

    port: int
    pid: int
    host_key_pub: str
    client_key: Path
    known_hosts: Path
    started_in_s: float
    log: Path

    def session_pids(self) -> list[int]:
        """Processes sshd forked for connections (killing them drops those connections)."""
        found, pending = [], [self.pid]
        while pending:
            parent = pending.pop()
            try:
                children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
            except OSError:
                continue
            found += [int(child) for child in children]
            pending += [int(child) for child in children]
        return found

    def drop_connections(self) -> int:
        """Kill every connection's sshd process; returns how many were killed."""
        killed = 0
        for pid in self.session_pids():
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        return killed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """Debian's sshd on 127.0.0.1 and a free port, key auth only, in a private mount namespace as root."""
    if not SSHD.exists():
        pytest.skip("openssh-server is not installed (run scripts/setup-system.sh as root)")
    home = tmp_path_factory.mktemp("sshd")
    host_key_pub = _keygen(home / "host_key")
    client_pub = _keygen(home / "client_key")
    (home / "authorized_keys").write_text(client_pub + "\n")
    port = _free_port()
    config = home / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {home / 'host_key'}\nPidFile {home / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {home / 'authorized_keys'}\nUsePAM no\nStrictModes no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\nMaxStartups 50\nLogLevel VERBOSE\n"
    )
    known_hosts = home / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key_pub}\n")
    log = home / "sshd.log"
    daemon = [str(SSHD), "-D", "-e", "-f", str(config)]
    if os.geteuid() == 0:  # sshd wants /run/sshd: give it a private tmpfs /run, leaving the host's alone
        script = 'mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && exec "$@"'
        daemon = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *daemon]
    started = time.monotonic()
    process = subprocess.Popen(daemon, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() - started > 20:
                process.kill()
                pytest.fail(f"sshd did not start: {log.read_text()[-2000:]}")
            time.sleep(0.01)
    server = Sshd(
        port, process.pid, host_key_pub, home / "client_key", known_hosts, time.monotonic() - started, log
    )
    print(f"sshd up on 127.0.0.1:{port} in {server.started_in_s:.2f} s")
    yield server
    process.terminate()
    process.wait(timeout=10)
    server.drop_connections()


@pytest.fixture()
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private devices.yaml location for this test (the CLI subprocesses inherit it)."""
    folder = tmp_path / "config"
    monkeypatch.setenv("EDGESHIP_CONFIG_DIR", str(folder))
    return folder


def add_ssh_device(
    name: str,
    sshd: Sshd,
    workdir: Path,
    *options: str,
    python: str | None = None,
    known_hosts: Path | None = None,
    profile: str = "rpi4",
) -> None:
    """`edgeship devices add` for the test sshd, with the throwaway key and known_hosts."""
    import sys

    result = run_cli(
        "devices",
        "add",
        name,
        "--ssh",
        f"{getpass.getuser()}@127.0.0.1:{sshd.port}",
        "--profile",
        profile,
        "--key",
        str(sshd.client_key),
        "--known-hosts",
        str(known_hosts or sshd.known_hosts),
        "--python",
        python or sys.executable,
        "--workdir",
        str(workdir),
        *options,
    )
    assert result.returncode == 0, result.stderr


def entry_for(sshd: Sshd, known_hosts: Path | None = None, **fields: object) -> DeviceEntry:
    """A device entry for the test sshd, with the throwaway key and (by default) its known_hosts."""
    import sys

    return DeviceEntry(
        user=getpass.getuser(),
        host="127.0.0.1",
        port=sshd.port,
        profile="rpi4",
        key=str(sshd.client_key),
        known_hosts=str(known_hosts or sshd.known_hosts),
        python=sys.executable,
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory, distilbert_dir: Path) -> Path:
    """A tiny DistilBERT bundle with one ONNX variant (sequence length 16)."""
    out = tmp_path_factory.mktemp("bundles") / "tiny"
    result = run_cli("export", str(distilbert_dir), "--out", str(out), "--max-length", "16")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture()
def bundle_copy(tmp_path: Path, tiny_bundle: Path) -> Path:
    """A private copy of the tiny bundle (tests write benchmarks into it)."""
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    return copy


@pytest.fixture(scope="session")
def tflite_runtime_python() -> Path:
    """A venv with only tflite-runtime 2.14 (the last release) and numpy<2, cached across runs."""
    import sys

    from edgeship.cache import cache_root

    venv = cache_root() / "test-envs" / "tflite-runtime-2.14"
    python = venv / "bin" / "python"
    if not (venv / "READY").is_file():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "tflite-runtime==2.14.0", "numpy<2"],
            capture_output=True,
            text=True,
            check=False,
        )
        if install.returncode != 0:
            pytest.skip(f"cannot install tflite-runtime 2.14 from PyPI: {install.stderr.strip()[-300:]}")
        (venv / "READY").touch()
    return python
