"""What the qemu-a72-icount guest boots: Debian's arm64 kernel and an initramfs made from the arm64 userland.

Built once into edgeship's cache without root: apt (the userland's private arm64 state) downloads the
kernel package, `dpkg-deb --fsys-tarfile` yields its /boot/vmlinuz, and the userland's emulated Python
precompiles a copy of its standard library (Debian ships no .pyc; compiling at every boot costs seconds).
Each run then writes a fresh uncompressed initramfs: the userland (only the runtime the artifact needs),
the /init script, the agent and the job's files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from edgeship.devices.cpio import CpioWriter
from edgeship.devices.userland import Userland, apt_options, cache_root, ensure_userland, locked, run_step
from edgeship.errors import DeviceError

RECIPE_VERSION = "1"
BUILDING = "the qemu-a72-icount guest"
STDLIB = "usr/lib/python3.11"
DIST_PACKAGES = "usr/local/lib/python3.11/dist-packages/"
RUNTIME_PACKAGES = {"onnxruntime": "onnxruntime", "ai-edge-litert": "ai_edge_litert"}
# /proc and /sys are mounted at boot; the compiled copy replaces the stdlib
LEFT_OUT = ("proc", "var", "usr/share", STDLIB)


@dataclass(frozen=True)
class GuestImage:
    """A built guest: the kernel, the compiled standard library and the userland they go with."""

    home: Path
    userland: Userland

    @property
    def kernel(self) -> Path:
        """Debian's arm64 kernel (an uncompressed EFI-stub Image that `qemu -kernel` boots directly)."""
        return self.home / "vmlinuz"

    @property
    def stdlib(self) -> Path:
        """The userland's Python standard library with .pyc files beside the sources."""
        return self.home / "stdlib"

    def is_built(self) -> bool:
        """Whether a complete build of the current recipe is present."""
        stamp = self.home / "READY"
        return stamp.is_file() and stamp.read_text().strip() == RECIPE_VERSION

    def write_initramfs(self, path: Path, runtimes: set[str], files: dict[str, Path | bytes]) -> None:
        """An uncompressed cpio initramfs: the userland with `runtimes` only, /init, and `files` by guest path."""
        from importlib import resources

        unwanted = tuple(DIST_PACKAGES + p for r, p in RUNTIME_PACKAGES.items() if r not in runtimes)
        init = resources.files("edgeship.devices").joinpath("icount_init.py").read_bytes()
        with path.open("wb") as stream:
            archive = CpioWriter(stream)
            archive.tree(self.userland.root, "", keep=lambda relative: _wanted(relative, unwanted))
            archive.tree(self.stdlib, STDLIB)
            archive.char_device("dev/console", 5, 1)
            archive.file("init", init, mode=0o755)
            for name, content in files.items():
                archive.file(name, content.read_bytes() if isinstance(content, Path) else content)
            archive.close()


def _wanted(relative: str, unwanted_packages: tuple[str, ...]) -> bool:
    """Leave out what the agent never reads: docs, test suites, the other runtime's packages."""
    if relative.startswith(unwanted_packages) or relative.rsplit("/", 1)[-1] == "tests":
        return False
    return not any(relative == left or relative.startswith(left + "/") for left in LEFT_OUT)


def ensure_image(log: bool = True) -> GuestImage:
    """Build the kernel and compiled stdlib unless cached (and the userland they need); safe across processes."""
    image = GuestImage(cache_root() / "qemu-a72-icount", ensure_userland(log=log))
    if image.is_built():
        return image
    with locked(image.home.parent / "qemu-a72-icount.lock"):
        if image.is_built():
            return image
        started = time.monotonic()
        if log:
            print(f"edgeship: fetching Debian's arm64 kernel into {image.home} (once)", file=sys.stderr)
        shutil.rmtree(image.home, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(dir=image.home.parent, prefix=".qemu-a72-icount-"))
        try:
            _build(GuestImage(staging, image.userland))
            os.replace(staging, image.home)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if log:
            print(f"edgeship: guest kernel ready in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return image


def _build(image: GuestImage) -> None:
    _fetch_kernel(image.home / "apt", image.kernel)
    shutil.rmtree(image.home / "apt")
    shutil.copytree(image.userland.root / STDLIB, image.stdlib, symlinks=True)
    compile_all = ["-m", "compileall", "-q", "-j", "0", "-d", "/" + STDLIB, str(image.stdlib)]
    run_step([*image.userland.python_command(), *compile_all], "compileall of the stdlib", building=BUILDING)
    (image.home / "READY").write_text(RECIPE_VERSION + "\n")


def _fetch_kernel(state: Path, target: Path) -> None:
    """Download the package linux-image-arm64 points to and take /boot/vmlinuz-* out of it."""
    options = apt_options(state)
    run_step(["apt-get", "-q", *options, "update"], "apt-get update (arm64 lists)", building=BUILDING)
    depends = run_step(
        ["apt-cache", *options, "depends", "linux-image-arm64"], "apt-cache", building=BUILDING
    )
    found = re.search(r"Depends: (linux-image-\S+-arm64)", depends)
    if not found:
        raise DeviceError(f"building {BUILDING} failed: linux-image-arm64 names no kernel package")
    package, archives = found.group(1), state / "cache" / "archives"
    run_step(
        ["apt-get", "-q", *options, "download", package], f"apt-get download {package}", archives, BUILDING
    )
    [deb] = archives.glob(f"{package}_*.deb")
    tar = subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    with tar, tarfile.open(fileobj=tar.stdout, mode="r|") as contents:
        for member in contents:
            source = contents.extractfile(member) if member.name.startswith("./boot/vmlinuz-") else None
            if source is not None:
                target.write_bytes(source.read())
                break
    if not target.is_file():
        raise DeviceError(f"building {BUILDING} failed: {deb.name} holds no /boot/vmlinuz")
