"""A writer for the cpio "newc" format the Linux kernel unpacks as an initramfs (no root, no `cpio`)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

MAGIC = b"070701"
TRAILER = "TRAILER!!!"


class CpioWriter:
    """Appends entries to an open binary stream; `close()` writes the trailer."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.inode = 1
        self.written: set[str] = set()

    def _entry(
        self, name: str, mode: int, data: bytes = b"", mtime: int = 0, rdev: tuple[int, int] = (0, 0)
    ) -> None:
        name = name.lstrip("/")
        encoded = name.encode() + b"\0"
        fields = [self.inode, mode, 0, 0, 1, mtime, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0]
        self.stream.write(MAGIC + b"".join(b"%08X" % field for field in fields) + encoded)
        self.stream.write(b"\0" * (-(110 + len(encoded)) % 4) + data + b"\0" * (-len(data) % 4))
        self.inode += 1
        self.written.add(name)

    def directory(self, name: str, mode: int = 0o755) -> None:
        """A directory (and its missing parents)."""
        name = name.strip("/")
        if not name:
            return
        parent = os.path.dirname(name)
        if parent and parent not in self.written:
            self.directory(parent)
        if name not in self.written:
            self._entry(name, stat.S_IFDIR | mode)

    def file(self, name: str, data: bytes, mode: int = 0o644, mtime: int = 0) -> None:
        """A regular file with `data`."""
        self.directory(os.path.dirname(name))
        self._entry(name, stat.S_IFREG | mode, data, mtime)

    def symlink(self, name: str, target: str) -> None:
        """A symbolic link to `target`."""
        self.directory(os.path.dirname(name))
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        """A character device node (e.g. /dev/console), which needs no root inside an archive."""
        self.directory(os.path.dirname(name))
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def tree(self, source: Path, prefix: str, keep: Callable[[str], bool] = lambda _: True) -> None:
        """Everything under `source` at `prefix` whose path relative to `source` passes `keep`."""
        for folder, folders, files in os.walk(source):
            here = Path(folder)
            relative = "" if here == source else here.relative_to(source).as_posix() + "/"
            folders[:] = sorted(f for f in folders if keep(relative + f))
            self.directory(f"{prefix}/{relative}".rstrip("/"))
            links = [f for f in folders if (here / f).is_symlink()]
            for name in sorted(files) + links:
                if keep(relative + name):
                    self.path(here / name, f"{prefix}/{relative}{name}")

    def path(self, source: Path, name: str) -> None:
        """One file or symlink from disk, keeping its mode and mtime (Python checks .pyc against them)."""
        info = source.lstat()
        if stat.S_ISLNK(info.st_mode):
            self.symlink(name, os.readlink(source))
        elif stat.S_ISREG(info.st_mode):
            self.file(name, source.read_bytes(), stat.S_IMODE(info.st_mode), int(info.st_mtime))

    def close(self) -> None:
        """Write the trailer that ends the archive."""
        self._entry(TRAILER, 0)
