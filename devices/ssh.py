"""Boards over SSH (paramiko): strict host keys, verified SFTP uploads, quoted commands, timeouts, retries."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import posixpath
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from edgeship.devices.base import Completed, Device, Staged, agent_path, register_transport
from edgeship.devices.config import DeviceEntry
from edgeship.devices.profiles import get_profile
from edgeship.errors import DeviceError, MissingDependencyError

if TYPE_CHECKING:
    import paramiko

T = TypeVar("T")
CONNECT_TIMEOUT = 15.0


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint of a host key."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


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


class HostKeyPolicy:
    """What paramiko does with a host key missing from known_hosts: call `on_missing(hostname, key)`."""

    def __init__(self, on_missing: Callable[[str, Any], None]) -> None:
        self.on_missing = on_missing

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        """paramiko's hook."""
        self.on_missing(hostname, key)


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
            self._client = self._connect(self._strict_policy())
        return self._client

    def sftp(self) -> paramiko.SFTPClient:
        """The session's SFTP channel."""
        client = self.client()
        if self._sftp is None:
            self._sftp = client.open_sftp()
        return self._sftp

    def trust(self, expected: str) -> str:
        """Add the device's host key to known_hosts if its fingerprint is `expected`; returns it."""
        paramiko = _paramiko()
        offered: dict[str, Any] = {}

        def record(hostname: str, key: Any) -> None:
            offered["key"] = key
            raise DeviceError("stop after the key exchange")

        with contextlib.suppress(DeviceError):
            self._connect(HostKeyPolicy(record), load_known=False)
        if "key" not in offered:
            raise DeviceError(f"device '{self.name}' offered no host key", hint="check the address")
        key = offered["key"]
        if fingerprint(key) != expected:
            raise DeviceError(
                f"device '{self.name}' offers host key {fingerprint(key)}, not {expected}",
                hint="compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the device",
            )
        host_keys = paramiko.HostKeys()
        if self.known_hosts.is_file():
            host_keys.load(str(self.known_hosts))
        host_keys.add(known_host_name(self.entry.host, self.entry.port), key.get_name(), key)
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        host_keys.save(str(self.known_hosts))
        return fingerprint(key)

    def _strict_policy(self) -> HostKeyPolicy:
        def refuse(hostname: str, key: Any) -> None:
            raise DeviceError(
                f"device '{self.name}' ({hostname}) is not in {self.known_hosts}; it offers {key.get_name()} "
                f"key {fingerprint(key)}",
                hint=f"check that fingerprint on the device, then `edgeship devices trust {self.name} "
                f"{fingerprint(key)}`",
            )

        return HostKeyPolicy(refuse)

    def _connect(self, policy: Any, load_known: bool = True) -> paramiko.SSHClient:
        paramiko = _paramiko()
        entry = self.entry
        client = paramiko.SSHClient()
        if load_known and self.known_hosts.is_file():
            client.load_host_keys(str(self.known_hosts))
        client.set_missing_host_key_policy(policy)
        try:
            client.connect(
                entry.host,
                port=entry.port,
                username=entry.user,
                key_filename=str(Path(entry.key).expanduser()) if entry.key else None,
                look_for_keys=entry.key is None,
                allow_agent=entry.key is None,
                timeout=CONNECT_TIMEOUT,
                banner_timeout=CONNECT_TIMEOUT,
                auth_timeout=CONNECT_TIMEOUT,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            host = known_host_name(entry.host, entry.port)
            raise DeviceError(
                f"host key of device '{self.name}' ({host}) changed: it offers {fingerprint(exc.key)}, "
                f"{self.known_hosts} has {fingerprint(exc.expected_key)} (possible man-in-the-middle)",
                hint=f"if the device was re-installed, `ssh-keygen -R '{host}' -f {self.known_hosts}` then "
                f"`edgeship devices trust {self.name} {fingerprint(exc.key)}`",
            ) from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            raise DeviceError(
                f"device '{self.name}' refused the login as {entry.user}: {exc}",
                hint="check --key and that its public key is in the device's ~/.ssh/authorized_keys",
            ) from exc
        except BaseException:
            client.close()
            raise
        return client

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
        completed = self.run(["sha256sum", "--", path], timeout=600)
        return completed.stdout.split()[0] if completed.returncode == 0 and completed.stdout else None

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
