"""Boards over SSH (paramiko): strict host keys, verified SFTP uploads, quoted commands, timeouts, retries."""

from __future__ import annotations

import base64
import hashlib
import logging
import posixpath
import re
import shlex
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from edgeship.devices.base import Completed, Device, Staged, agent_path, register_transport
from edgeship.devices.config import DeviceEntry
from edgeship.devices.known_hosts import KnownKeys, read_known_keys, save_host_key
from edgeship.devices.profiles import get_profile
from edgeship.devices.ssh_socket import Unreachable, open_socket, seconds_text
from edgeship.errors import DeviceError, MissingDependencyError

if TYPE_CHECKING:
    import paramiko

T = TypeVar("T")
CONNECT_TIMEOUT = 15.0


def fingerprint(key: paramiko.PKey | bytes) -> str:
    """OpenSSH-style SHA256 fingerprint of a host key (or of its blob)."""
    blob = key if isinstance(key, bytes) else key.asbytes()
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def known_host_name(host: str, port: int) -> str:
    """The name a host's key is filed under in known_hosts."""
    return host if port == 22 else f"[{host}]:{port}"


def _paramiko() -> Any:
    try:
        import paramiko
    except ImportError as exc:
        raise MissingDependencyError(
            "SSH devices need paramiko", hint='pip install "edgeship[devices]"'
        ) from exc
    return paramiko


# paramiko logs every failed handshake with a traceback; with no handler of its own Python would print that
# on stderr. Our errors say what failed; an application that configures logging still gets paramiko's records.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


class HostKeyPolicy:
    """What paramiko does with the host key a server offers: call `on_offered(hostname, key)`."""

    def __init__(self, on_offered: Callable[[str, Any], None]) -> None:
        self.on_offered = on_offered

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        """paramiko's hook (it gets every key: edgeship gives paramiko no known keys and checks them itself)."""
        self.on_offered(hostname, key)


class HostKeyOffered(Exception):
    """Raised by `trust` to stop right after the key exchange, carrying the key the device offered."""

    def __init__(self, key: Any) -> None:
        super().__init__("host key offered")
        self.key = key


class SshConnection:
    """One SSH session to a device, re-opened (with backoff) when the connection drops."""

    def __init__(self, entry: DeviceEntry, name: str, retries: int = 4, backoff: float = 0.5) -> None:
        self.entry, self.name = entry, name
        self.retries, self.backoff = retries, backoff
        self.known_hosts = Path(entry.known_hosts or Path.home() / ".ssh" / "known_hosts").expanduser()
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    def close(self) -> None:
        """Close the session (a later call reconnects)."""
        if self._client is not None:
            self._client.close()
        self._client = self._sftp = None

    def client(self) -> paramiko.SSHClient:
        """The open session, connecting with strict host-key checking if needed."""
        transport = self._client.get_transport() if self._client is not None else None
        if transport is None or not transport.is_active():
            self.close()
            self._client = self._connect(HostKeyPolicy(self._check_host_key))
        return self._client

    def sftp(self) -> paramiko.SFTPClient:
        """The session's SFTP channel."""
        client = self.client()
        if self._sftp is None:
            self._sftp = client.open_sftp()
        return self._sftp

    def trust(self, expected: str) -> str:
        """Add the device's host key to known_hosts if its fingerprint is `expected`; returns it."""

        def stop(hostname: str, key: Any) -> None:
            raise HostKeyOffered(key)

        try:
            self._connect(HostKeyPolicy(stop)).close()
        except HostKeyOffered as offered:
            key = offered.key
        else:
            raise DeviceError(f"device '{self.name}' offered no host key", hint="check the address")
        if fingerprint(key) != expected:
            raise DeviceError(
                f"device '{self.name}' offers host key {fingerprint(key)}, not {expected}",
                hint="compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the device",
            )
        name = self._host_name()
        self._refuse_revoked(name, key, read_known_keys(self.known_hosts, name))
        save_host_key(self.known_hosts, name, key.get_name(), key.asbytes())
        return fingerprint(key)

    def _check_host_key(self, hostname: str, key: Any) -> None:
        """Accept `key` only if known_hosts lists it for `hostname` and does not mark it @revoked."""
        known = read_known_keys(self.known_hosts, hostname)
        self._refuse_revoked(hostname, key, known)
        if any(line.key == key.asbytes() for line in known.trusted):
            return
        if known.trusted:
            listed = fingerprint(known.trusted[0].key)
            raise DeviceError(
                f"host key of device '{self.name}' ({hostname}) changed: it offers {fingerprint(key)}, "
                f"{self.known_hosts} has {listed} (possible man-in-the-middle)",
                hint=f"if the device was re-installed, `ssh-keygen -R '{hostname}' -f {self.known_hosts}` then "
                f"`edgeship devices trust {self.name} {fingerprint(key)}`",
            )
        raise DeviceError(
            f"device '{self.name}' ({hostname}) is not in {self.known_hosts}; it offers {key.get_name()} "
            f"key {fingerprint(key)}",
            hint=f"check that fingerprint on the device, then `edgeship devices trust {self.name} "
            f"{fingerprint(key)}`",
        )

    def _refuse_revoked(self, hostname: str, key: Any, known: KnownKeys) -> None:
        if any(line.key == key.asbytes() for line in known.revoked):
            raise DeviceError(
                f"device '{self.name}' ({hostname}) offers {key.get_name()} key {fingerprint(key)}, which "
                f"{self.known_hosts} marks @revoked",
                hint="do not use this device until its owner re-keys it; if that key is safe again, delete "
                "its @revoked line",
            )

    def _connect(self, policy: HostKeyPolicy) -> paramiko.SSHClient:
        """Connect, retrying with backoff while the device is unreachable, all within the device's timeout."""
        started = time.monotonic()
        deadline = started + self.entry.timeout
        for attempt in range(1, self.retries + 2):
            try:
                return self._connect_once(policy, min(CONNECT_TIMEOUT, deadline - time.monotonic()))
            except Unreachable as exc:
                delay = self.backoff * 2 ** (attempt - 1)
                if attempt > self.retries or time.monotonic() + delay >= deadline:
                    tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
                    raise DeviceError(
                        f"device '{self.name}' ({self.entry.endpoint}) {exc.reason} ({tries} in "
                        f"{seconds_text(time.monotonic() - started)} s, device timeout {seconds_text(self.entry.timeout)} s)",
                        hint=exc.hint,
                    ) from exc
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _connect_once(self, policy: HostKeyPolicy, budget_s: float) -> paramiko.SSHClient:
        """One connection, given `budget_s` seconds for each of TCP, the banner and the SSH handshake."""
        paramiko = _paramiko()
        entry = self.entry
        sock, greeting = open_socket(self.entry.host, self.entry.port, budget_s)
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(policy)
        known_types = {line.key_type for line in read_known_keys(self.known_hosts, self._host_name()).trusted}
        try:
            client.connect(
                entry.host,
                port=entry.port,
                username=entry.user,
                key_filename=str(Path(entry.key).expanduser()) if entry.key else None,
                look_for_keys=entry.key is None,
                allow_agent=entry.key is None,
                sock=sock,
                timeout=budget_s,
                banner_timeout=budget_s,
                auth_timeout=budget_s,
                transport_factory=lambda sock, **options: _transport(sock, known_types, **options),
            )
        except paramiko.AuthenticationException as exc:
            client.close()
            raise DeviceError(
                f"device '{self.name}' refused the login as {entry.user}: {exc}",
                hint="check --key and that its public key is in the device's ~/.ssh/authorized_keys",
            ) from exc
        except (paramiko.SSHException, EOFError, OSError) as exc:
            client.close()
            sock.close()
            first_line = greeting.splitlines()[0][:80].decode(errors="replace")
            reason = (
                f"broke off the SSH handshake: {exc or type(exc).__name__}"
                if greeting.startswith(b"SSH-")
                else f"answered {first_line!r}, not an SSH banner"
            )
            raise Unreachable(
                reason,
                hint=f"check that {entry.endpoint} is the device's sshd and that it accepts this machine",
            ) from exc
        except BaseException:
            client.close()
            sock.close()
            raise
        return client

    def _host_name(self) -> str:
        return known_host_name(self.entry.host, self.entry.port)

    def retrying(self, what: str, action: Callable[[], T]) -> T:
        """Run `action`, reconnecting with exponential backoff when the connection drops."""
        paramiko = _paramiko()
        for attempt in range(self.retries + 1):
            try:
                return action()
            except (paramiko.SSHException, EOFError, OSError) as exc:
                self.close()
                if attempt == self.retries:
                    raise DeviceError(
                        f"{what} on device '{self.name}' failed after {attempt + 1} attempts: "
                        f"{type(exc).__name__}: {exc}",
                        hint=f"check that {self.entry.address} is up and reachable",
                    ) from exc
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def run(self, argv: list[str], timeout: float) -> Completed:
        """Run `argv` on the device, every argument quoted, killed after `timeout` seconds."""
        command = " ".join(shlex.quote(part) for part in argv)
        wrapped = f"timeout -k 5 {max(1, round(timeout))} {command}"
        return self.retrying(f"`{argv[0]}`", lambda: self._run_once(wrapped, timeout + 15))

    def _run_once(self, command: str, deadline_s: float) -> Completed:
        channel = self.client().get_transport().open_session(timeout=CONNECT_TIMEOUT)  # type: ignore[union-attr]
        channel.exec_command(command)
        stdout, stderr = bytearray(), bytearray()
        deadline = time.monotonic() + deadline_s
        while True:
            drained = False
            while channel.recv_ready():
                stdout += channel.recv(1 << 16)
                drained = True
            while channel.recv_stderr_ready():
                stderr += channel.recv_stderr(1 << 16)
                drained = True
            if channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready():
                break
            if time.monotonic() > deadline:
                channel.close()
                return Completed(124, stdout.decode(errors="replace"), "timed out (no answer)")
            if not drained:
                time.sleep(0.005)
        if not channel.status_event.is_set():
            raise EOFError("the connection closed before the command finished")
        status = channel.recv_exit_status()
        channel.close()
        return Completed(status, stdout.decode(errors="replace"), stderr.decode(errors="replace"))

    def remote_sha256(self, path: str) -> str | None:
        """sha256 of a file on the device, None when it does not exist."""
        # hash stdin: for a name holding a backslash or a newline sha256sum prints `\<hash>  <escaped name>`
        completed = self.run(["sh", "-c", 'exec sha256sum < "$1"', "sh", path], timeout=600)
        digest = completed.stdout.split()[0] if completed.returncode == 0 and completed.stdout else ""
        return digest if re.fullmatch("[0-9a-f]{64}", digest) else None

    def upload(self, local: Path, remote: str, sha256: str) -> bool:
        """Put `local` at `remote` unless an identical file is there; verified; True when sent."""
        if self.remote_sha256(remote) == sha256:
            return False
        self.run(["mkdir", "-p", "--", posixpath.dirname(remote) or "."], timeout=60)
        partial = remote + ".partial"

        def send() -> None:
            sftp = self.sftp()
            sftp.put(str(local), partial, confirm=True)
            sftp.posix_rename(partial, remote)

        for _ in range(2):
            self.retrying(f"upload of {local.name}", send)
            if self.remote_sha256(remote) == sha256:
                return True
        raise DeviceError(
            f"{local.name} arrived on device '{self.name}' with a different sha256 twice",
            hint="check the device's storage (SD card) and free space",
        )

    def move(self, source: str, target: str, sha256: str) -> None:
        """Rename `source` over `target` with posix-rename (atomic: readers see the old file or the new
        one), then check `target` has `sha256`."""
        self.run(["mkdir", "-p", "--", posixpath.dirname(target) or "."], timeout=60)

        def rename() -> None:
            try:
                self.sftp().posix_rename(source, target)
            except FileNotFoundError:
                if self.remote_sha256(target) != sha256:  # else an attempt whose reply was lost renamed it
                    raise

        self.retrying(f"rename of {posixpath.basename(source)}", rename)
        if self.remote_sha256(target) != sha256:
            raise DeviceError(
                f"{target} on device '{self.name}' does not have the promoted file's sha256",
                hint="check the device's storage (SD card), then push again",
            )

    def remove(self, files: list[str], folders: list[str]) -> None:
        """Delete `files`, then each of `folders` that is left empty."""
        if files:
            removed = self.run(["rm", "-f", "--", *files], timeout=60)
            if removed.returncode != 0:
                last = (removed.stderr.strip().splitlines() or ["no output"])[-1]
                raise DeviceError(
                    f"could not remove files on device '{self.name}': {last}", hint="remove them by hand"
                )
        if folders:  # rmdir leaves folders that still hold something, and says so; that is fine here
            self.run(["rmdir", "--ignore-fail-on-non-empty", "--", *folders], timeout=60)

    def download(self, remote: str, local: Path) -> None:
        """Copy `remote` from the device to `local`."""
        self.retrying(
            f"download of {posixpath.basename(remote)}", lambda: self.sftp().get(remote, str(local))
        )


@register_transport("ssh")
class SshDevice(Device):
    """A board reached over SSH; files go to <workdir>/ on it, the agent runs with the device's Python."""

    remote = True

    def __init__(self, name: str, entry: DeviceEntry) -> None:
        super().__init__(name, get_profile(entry.profile), timeout=entry.timeout)
        self.entry = entry
        self.connection = SshConnection(entry, name)
        self.workdir = entry.workdir.removeprefix("~/") or "."
        self._agent_pushed = False

    @classmethod
    def from_entry(cls, name: str, entry: Any) -> SshDevice:
        """The device stored under `name`."""
        return cls(name, entry)

    @property
    def address(self) -> str:
        """user@host:port."""
        return self.entry.address

    def workdir_location(self) -> str:
        """The folder on the device that holds pushed files."""
        return self.workdir

    def agent_location(self) -> str:
        """Where the agent file is on the device."""
        return posixpath.join(self.workdir, "agent.py")

    def push(self, item: Staged) -> tuple[str, bool]:
        """Upload one file unless the device has it (sha256 verified); returns (path there, whether sent)."""
        remote = self.location(item.relative)
        return remote, self.connection.upload(item.local, remote, item.sha256)

    def promote(self, staged: str, live: str, sha256: str) -> None:
        """Rename the staged file over the live one on the device (atomic), then verify it."""
        self.connection.move(staged, live, sha256)

    def remove(self, files: list[str], folders: list[str]) -> None:
        """Delete files on the device (with what a broken-off upload left of them), then the folders left
        empty."""
        self.connection.remove([*files, *(file + ".partial" for file in files)], folders)

    def fetch(self, location: str, local: Path) -> None:
        """Download a file the agent wrote on the device."""
        self.connection.download(location, local)

    def execute_agent(self, arguments: list[str], timeout: float) -> Completed:
        """Run the agent with the device's Python, pushing the agent file first if it changed."""
        if not self._agent_pushed:
            agent = agent_path()
            self.push(Staged(agent, hashlib.sha256(agent.read_bytes()).hexdigest(), "agent.py"))
            self._agent_pushed = True
        python = shlex.split(self.entry.python)
        return self.connection.run([*python, self.agent_location(), *arguments], timeout)


def _transport(sock: socket.socket, known_types: set[str], **options: Any) -> paramiko.Transport:
    """paramiko's Transport, asking first for the host key types known_hosts has for the device."""
    transport = _paramiko().Transport(sock, **options)
    security = transport.get_security_options()
    known = [kind for kind in security.key_types if _key_type(kind) in known_types]
    security.key_types = known + [kind for kind in security.key_types if kind not in known]
    return transport


def _key_type(algorithm: str) -> str:
    """The key type a host key algorithm signs with (rsa-sha2-512 -> ssh-rsa)."""
    return "ssh-rsa" if algorithm.startswith("rsa-sha2-") else algorithm
