"""SSH on real networks: company known_hosts files, ports that are not sshd, out-of-range device options."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeship.devices.config import DeviceEntry, add_device
from edgeship.devices.ssh import SshConnection
from edgeship.errors import DeviceError
from tests.devices import conftest as devices_conftest
from tests.devices.conftest import Sshd, entry_for
from tests.reliability.conftest import CliRecorder, assert_clean_error

pytest.importorskip("paramiko")
sshd, config_dir = devices_conftest.sshd, devices_conftest.config_dir  # the devices suite's fixtures

TIMEOUT_S = 2  # the device's --timeout: every connection attempt and retry must fit in it
STARTUP_S = 4  # what a CLI process may add to that (interpreter and imports)
OTHER_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"  # any ed25519 public key


class HostilePeer:
    """A loopback port that accepts connections and then closes them at once, or holds them in silence."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour, self.accepted = behaviour, 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.05)
        self.port = int(self.server.getsockname()[1])
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            if self.behaviour == "close":
                connection.close()
            else:
                self.held.append(connection)

    def stop(self) -> None:
        """Stop accepting and drop what is held."""
        self.stopped.set()
        self.thread.join()
        for connection in [self.server, *self.held]:
            connection.close()


@pytest.fixture(params=["close", "silent"])
def hostile_peer(request: pytest.FixtureRequest) -> Iterator[HostilePeer]:
    """A port that closes every connection before the SSH banner, or one that never sends it."""
    peer = HostilePeer(request.param)
    yield peer
    peer.stop()


def expected_cause(behaviour: str, timeout_s: int) -> str:
    """What the error line says about a hostile peer."""
    if behaviour == "close":
        return "closed the connection before the SSH banner"
    return f"sent no SSH banner within {timeout_s} s"


def fingerprint_of(public_key: str, tmp_path: Path) -> str:
    """OpenSSH's own fingerprint of a public key line."""
    (tmp_path / "key.pub").write_text(public_key + "\n")
    listed = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "key.pub")], capture_output=True, text=True)
    return listed.stdout.split()[1]


@pytest.mark.parametrize(
    ("hostile_peer", "command"), [("close", "probe"), ("silent", "trust")], indirect=["hostile_peer"]
)
def test_a_port_that_is_not_sshd_fails_in_one_line_within_the_device_timeout(
    hostile_peer: HostilePeer, command: str, config_dir: Path, tmp_path: Path, edgeship_cli: CliRecorder
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.touch()
    entry = DeviceEntry(
        user="pi", host="127.0.0.1", port=hostile_peer.port, profile="rpi4", known_hosts=str(known_hosts)
    )
    add_device("pi", entry.model_copy(update={"timeout": TIMEOUT_S}))
    started = time.monotonic()
    arguments = ["pi", "SHA256:" + "A" * 43] if command == "trust" else ["pi"]
    result = edgeship_cli("devices", command, *arguments)
    elapsed = time.monotonic() - started
    line = assert_clean_error(
        result,
        f"device 'pi' (127.0.0.1:{hostile_peer.port}) {expected_cause(hostile_peer.behaviour, TIMEOUT_S)}",
    )
    assert "sshd" in line.split("(hint: ")[1] and "paramiko" not in result.stderr
    assert elapsed < TIMEOUT_S + STARTUP_S, elapsed
    assert known_hosts.read_bytes() == b""


def test_connecting_with_all_its_retries_fits_in_the_device_timeout(
    hostile_peer: HostilePeer, tmp_path: Path
) -> None:
    entry = DeviceEntry(
        user="pi",
        host="127.0.0.1",
        port=hostile_peer.port,
        profile="rpi4",
        known_hosts=str(tmp_path),
        timeout=2,
    )
    connection = SshConnection(entry, "pi")
    started = time.monotonic()
    with pytest.raises(DeviceError, match=expected_cause(hostile_peer.behaviour, 2)):
        connection.run(["true"], timeout=5)
    assert time.monotonic() - started < 2.2
    assert 1 <= hostile_peer.accepted <= 5


def test_cert_authority_revoked_and_hashed_lines_leave_ssh_devices_working(
    sshd: Sshd, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(
        "# company CA and a revoked key, as IT ships them\n"
        f"@cert-authority *.corp.example ssh-ed25519 {OTHER_KEY} corp-ca\n"
        f"@revoked * ssh-ed25519 {OTHER_KEY}\n"
        f"[127.0.0.1]:{sshd.port} {sshd.host_key_pub}\n"
    )
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known_hosts)], check=True, capture_output=True)
    assert "|1|" in known_hosts.read_text() and f"[127.0.0.1]:{sshd.port}" not in known_hosts.read_text()
    connection = SshConnection(entry_for(sshd, known_hosts), "pi")
    try:
        assert connection.run(["echo", "reached"], timeout=10).stdout == "reached\n"
    finally:
        connection.close()


def test_a_revoked_host_key_is_refused_even_when_listed_or_checked(
    sshd: Sshd, config_dir: Path, tmp_path: Path, edgeship_cli: CliRecorder
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {sshd.host_key_pub}\n@revoked * {sshd.host_key_pub}\n")
    before = known_hosts.read_bytes()
    add_device("pi", entry_for(sshd, known_hosts))
    real = fingerprint_of(sshd.host_key_pub, tmp_path)
    for arguments in (["probe", "pi"], ["trust", "pi", real]):
        result = edgeship_cli("devices", *arguments)
        assert_clean_error(
            result, f"device 'pi' ([127.0.0.1]:{sshd.port}) offers ssh-ed25519 key {real}", "marks @revoked"
        )
    assert known_hosts.read_bytes() == before


def test_trust_replaces_only_the_devices_line_and_keeps_the_rest_byte_for_byte(
    sshd: Sshd, config_dir: Path, tmp_path: Path, edgeship_cli: CliRecorder
) -> None:
    name, host_key = f"[127.0.0.1]:{sshd.port}", " ".join(sshd.host_key_pub.split()[:2])
    head = (
        f"# managed by IT\r\n@cert-authority *.corp.example ssh-ed25519 {OTHER_KEY}\n\n"
        f"|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ssh-ed25519 {OTHER_KEY}\n"
        f"@revoked old.corp.example ssh-ed25519 {OTHER_KEY}\n"
    )
    tail = f"{name},other.example ssh-ed25519 {OTHER_KEY}\nbuild.corp.example ssh-rsa AAAAB3NzaC1yc2E= lab"
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_bytes(f"{head}{name} ssh-ed25519 {OTHER_KEY} stale\n{tail}".encode())
    known_hosts.chmod(0o644)
    add_device("pi", entry_for(sshd, known_hosts))
    connection = SshConnection(entry_for(sshd, known_hosts), "pi")
    with pytest.raises(DeviceError, match="changed"):
        connection.run(["true"], timeout=10)

    real = fingerprint_of(sshd.host_key_pub, tmp_path)
    trusted = edgeship_cli("devices", "trust", "pi", real)
    assert trusted.returncode == 0, trusted.stderr
    assert known_hosts.read_bytes() == f"{head}{name} {host_key}\n{tail}".encode()
    assert known_hosts.stat().st_mode & 0o777 == 0o644
    assert [path.name for path in tmp_path.iterdir() if "known_hosts" in path.name] == ["known_hosts"]

    known_hosts.write_bytes(head.encode())
    assert edgeship_cli("devices", "trust", "pi", real).returncode == 0
    assert known_hosts.read_bytes() == f"{head}{name} {host_key}\n".encode()
    try:
        assert connection.run(["true"], timeout=10).returncode == 0
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        (["--ssh", "pi@host:99999"], ["--ssh: port 99999 is not in the range 1-65535"]),
        (["--ssh", "pi@host", "--timeout", "-5"], ["--timeout: Input should be greater than 0 (got -5.0)"]),
        (["--ssh", "pi@host", "--timeout", "inf"], ["--timeout: Input should be a finite number"]),
    ],
)
def test_out_of_range_device_options_are_refused_in_one_line(
    options: list[str], fragments: list[str], config_dir: Path, edgeship_cli: CliRecorder
) -> None:
    result = edgeship_cli("devices", "add", "pi", *options, "--profile", "rpi4")
    assert_clean_error(result, *fragments, "edgeship devices add --help")
    assert not (config_dir / "devices.yaml").exists()
