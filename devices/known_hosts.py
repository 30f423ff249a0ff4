"""known_hosts as OpenSSH reads it (plain, wildcard, negated and hashed host names, @revoked keys), and the
one edit edgeship makes to it: setting one host's key while every other line stays byte for byte."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from edgeship.bundle import write_text_atomic
from edgeship.errors import DeviceError

REVOKED = "@revoked"
CERT_AUTHORITY = "@cert-authority"


@dataclass(frozen=True)
class HostLine:
    """One key line: its marker (None, @revoked or @cert-authority), host field, key type and key blob."""

    marker: str | None
    hosts: str
    key_type: str
    key: bytes

    def matches(self, name: str) -> bool:
        """Whether the host field covers `name` (OpenSSH rules: any pattern matches, no negated one does)."""
        if self.hosts.startswith("|1|"):
            return _hash_matches(self.hosts, name)
        matched = False
        for pattern in self.hosts.split(","):
            if _wildcard(pattern.removeprefix("!")).fullmatch(name):
                if pattern.startswith("!"):
                    return False
                matched = True
        return matched

    def names_only(self, name: str) -> bool:
        """Whether this is `name`'s own line: its host field is `name` alone, plain or hashed."""
        return self.hosts.lower() == name.lower() or (self.hosts.startswith("|1|") and self.matches(name))


@dataclass
class KnownKeys:
    """The key lines that apply to one host: those it may offer, and those it must never be accepted with."""

    trusted: list[HostLine] = field(default_factory=list)
    revoked: list[HostLine] = field(default_factory=list)


def parse_line(line: str) -> HostLine | None:
    """The key line `line` holds, None for blank, comment and malformed lines (which OpenSSH skips too)."""
    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return None
    marker = fields.pop(0) if fields[0].startswith("@") else None
    if marker not in (None, REVOKED, CERT_AUTHORITY) or len(fields) < 3:
        return None
    try:
        key = base64.b64decode(fields[2], validate=True)
    except binascii.Error:
        return None
    return HostLine(marker, fields[0], fields[1], key)


def known_keys(text: str, name: str) -> KnownKeys:
    """The keys a known_hosts file's `text` holds for `name` (`host`, or `[host]:port` off port 22)."""
    found = KnownKeys()
    for line in text.splitlines():
        entry = parse_line(line)
        if entry is None or not entry.matches(name):
            continue
        if entry.marker == REVOKED:
            found.revoked.append(entry)
        elif (
            entry.marker is None
        ):  # @cert-authority: paramiko does not do host certificates, so no CA vouches
            found.trusted.append(entry)
    return found


def read_known_keys(path: Path, name: str) -> KnownKeys:
    """The keys the known_hosts file at `path` holds for `name` (none when it does not exist)."""
    if not path.is_file():
        return KnownKeys()
    return known_keys(path.read_text(encoding="utf-8", errors="replace"), name)


def with_host_key(text: str, name: str, key_type: str, key: bytes) -> str:
    """`text` with `name`'s own line for `key_type` set to `key` (the first kept in place, keeping a hashed
    name hashed; duplicates dropped), or such a line appended; every other line unchanged."""
    encoded = base64.b64encode(key).decode()
    lines, replaced = [], False
    for line in text.splitlines(keepends=True):
        entry = parse_line(line)
        if entry is None or entry.marker or entry.key_type != key_type or not entry.names_only(name):
            lines.append(line)
        elif not replaced:
            ending = line[len(line.rstrip("\r\n")) :]
            lines.append(f"{entry.hosts} {key_type} {encoded}{ending}")
            replaced = True
    if not replaced:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(f"{name} {key_type} {encoded}\n")
    return "".join(lines)


def save_host_key(path: Path, name: str, key_type: str, key: bytes) -> None:
    """Set `name`'s key in the known_hosts file at `path`, written atomically and keeping its mode."""
    try:
        text = path.read_bytes().decode("utf-8") if path.is_file() else ""  # bytes: keep \r\n as it is
    except UnicodeDecodeError as exc:
        raise DeviceError(
            f"{path} is not UTF-8 text, so edgeship will not rewrite it",
            hint="add the host key to it by hand",
        ) from exc
    updated = with_host_key(text, name, key_type, key)
    if updated == text:
        return
    mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, updated)
    if mode is not None:
        os.chmod(path, mode)


def _wildcard(pattern: str) -> re.Pattern[str]:
    """An OpenSSH host pattern (`*` and `?` wildcards, everything else literal) as a case-blind regex."""
    parts = (".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile("".join(parts), re.IGNORECASE)


def _hash_matches(hosts: str, name: str) -> bool:
    """Whether a hashed host field `|1|salt|hmac` is the HMAC-SHA1 of `name`."""
    try:
        _, _, salt, digest = hosts.split("|")
        expected = base64.b64decode(digest, validate=True)
        actual = hmac.new(base64.b64decode(salt, validate=True), name.encode(), hashlib.sha1).digest()
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)
