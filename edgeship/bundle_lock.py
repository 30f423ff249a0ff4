"""One writer at a time per bundle: an advisory file lock that names its holder to whoever waits."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from edgeship.console import console
from edgeship.errors import BundleError, EdgeshipError, OutputError, disk_error

LOCK_NAME = ".edgeship.lock"
TIMEOUT_VARIABLE = "EDGESHIP_LOCK_TIMEOUT"
DEFAULT_TIMEOUT_S = 600.0
POLL_S = 0.2

_held: dict[Path, int] = {}


def lock_timeout() -> float:
    """Seconds a writer waits for another to finish: $EDGESHIP_LOCK_TIMEOUT, else 600."""
    value = os.environ.get(TIMEOUT_VARIABLE, "")
    try:
        return float(value) if value else DEFAULT_TIMEOUT_S
    except ValueError:
        raise OutputError(
            f"{TIMEOUT_VARIABLE}={value!r} is not a number of seconds", hint=f"e.g. {TIMEOUT_VARIABLE}=120"
        ) from None


def unwritable(root: Path, exc: OSError) -> EdgeshipError:
    """The error for a bundle this process cannot write: a full disk (as `disk_error` says it), read-only,
    or no permission."""
    full = disk_error(exc) if exc.errno in (errno.ENOSPC, errno.EDQUOT) else None
    if full is not None:
        return full
    reason = (
        "is on a read-only file system" if exc.errno == errno.EROFS else f"is not writable ({exc.strerror})"
    )
    return BundleError(
        f"bundle {root} {reason}",
        hint="make it writable, or copy it somewhere writable and run there; nothing was changed",
    )


def _holder(lock_file: Path) -> str:
    """Who holds the lock, as its holder recorded it."""
    try:
        record = json.loads(lock_file.read_text(encoding="utf-8"))
        return f"pid {record['pid']} (`{record['command']}`, since {record['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _record_holder(handle: int) -> None:
    command = shlex.join(["edgeship", *sys.argv[1:]])
    since = time.strftime("%H:%M:%S")
    os.ftruncate(handle, 0)
    os.pwrite(handle, json.dumps({"pid": os.getpid(), "command": command, "since": since}).encode(), 0)


@contextlib.contextmanager
def bundle_lock(root: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold `root`'s lock (re-entrant in this process); wait for another holder up to `timeout` seconds,
    saying who it is, then fail naming it."""
    key = root.resolve()
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    lock_file = root / LOCK_NAME
    try:
        handle = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise unwritable(root, exc) from exc
    try:
        _acquire(handle, root, lock_file, lock_timeout() if timeout is None else timeout)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
            os.ftruncate(handle, 0)
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


def _acquire(handle: int, root: Path, lock_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            holder = _holder(lock_file)
            if time.monotonic() >= deadline:
                raise BundleError(
                    f"bundle {root} is locked by {holder}; gave up after {timeout:g} s",
                    hint=f"wait for that command to finish, or raise {TIMEOUT_VARIABLE}",
                ) from None
            if not told:
                console.print(f"Waiting for bundle {root}: it is locked by {holder}")
                told = True
            time.sleep(POLL_S)
    try:
        _record_holder(handle)
    except OSError as exc:
        fcntl.flock(handle, fcntl.LOCK_UN)
        raise unwritable(root, exc) from exc
