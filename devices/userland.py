"""The arm64 userland for the emulated Cortex-A72: Debian's python3.11 + numpy + runtimes, built once, cached.

No root and no mounts: apt downloads the arm64 packages with a private state directory and the machine's
own source lists, `dpkg-deb -x` unpacks them into a folder, pip installs aarch64 wheels into it with
`--target`, and Debian's `qemu-user-static` .deb provides `qemu-aarch64-static`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from edgeship.cache import cache_root
from edgeship.errors import DeviceError

RECIPE_VERSION = "1"
DEBIAN_PACKAGES = ["python3.11", "libstdc++6", "libgcc-s1"]
WHEEL_PLATFORMS = [
    "manylinux2014_aarch64",
    "manylinux_2_17_aarch64",
    "manylinux_2_27_aarch64",
    "manylinux_2_28_aarch64",
]
WHEELS = {"numpy": "numpy>=1.24", "onnxruntime": "onnxruntime>=1.18", "ai-edge-litert": "ai-edge-litert>=2.0"}
# What Linux reports on a Cortex-A72 (Raspberry Pi 4). onnxruntime reads it at import and crashes without.
A72_CPUINFO = (
    "".join(
        f"processor\t: {core}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
        "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n"
        for core in range(4)
    )
    + "Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n"
)


@dataclass(frozen=True)
class Userland:
    """A built userland: the arm64 root folder and the qemu binary that runs it."""

    home: Path

    @property
    def root(self) -> Path:
        """The arm64 root passed to qemu with -L."""
        return self.home / "root"

    @property
    def qemu(self) -> Path:
        """qemu-aarch64-static, unpacked from Debian's package."""
        return self.home / "qemu-aarch64-static"

    @property
    def python(self) -> Path:
        """The arm64 Python interpreter inside the root."""
        return self.root / "usr" / "bin" / "python3.11"

    def python_command(self, cpu: str = "cortex-a72") -> list[str]:
        """The host command line that starts the emulated interpreter on `cpu`."""
        return [str(self.qemu), "-cpu", cpu, "-L", str(self.root), str(self.python)]

    def is_built(self) -> bool:
        """Whether a complete build of the current recipe is present."""
        stamp = self.home / "READY"
        return stamp.is_file() and stamp.read_text().strip() == RECIPE_VERSION


def default_userland() -> Userland:
    """The userland in edgeship's cache (not necessarily built yet)."""
    return Userland(cache_root() / "qemu-a72")


def ensure_userland(userland: Userland | None = None, log: bool = True) -> Userland:
    """Build the userland unless a complete one is cached; safe against concurrent callers."""
    userland = userland or default_userland()
    if userland.is_built():
        return userland
    userland.home.parent.mkdir(parents=True, exist_ok=True)
    with locked(userland.home.parent / "qemu-a72.lock"):
        if userland.is_built():
            return userland
        started = time.monotonic()
        if log:
            print(f"edgeship: building the arm64 userland in {userland.home} (once)", file=sys.stderr)
        shutil.rmtree(userland.home, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(dir=userland.home.parent, prefix=".qemu-a72-"))
        try:
            _build(Userland(staging))
            os.replace(staging, userland.home)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if log:
            print(f"edgeship: userland ready in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return userland


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the block: one builder at a time across processes."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(userland: Userland) -> None:
    downloads = userland.home / "downloads"
    debs = _apt_download(downloads / "apt")
    userland.root.mkdir(parents=True)
    for deb in sorted(debs.glob("*_arm64.deb")) + sorted(debs.glob("*_all.deb")):
        run_step(["dpkg-deb", "-x", str(deb), str(userland.root)], "unpack " + deb.name)
    [qemu_deb] = debs.glob("qemu-user-static_*_amd64.deb")
    unpacked = downloads / "qemu"
    run_step(["dpkg-deb", "-x", str(qemu_deb), str(unpacked)], "unpack qemu-user-static")
    shutil.move(str(unpacked / "usr" / "bin" / "qemu-aarch64-static"), userland.qemu)
    _install_wheels(downloads / "wheels", userland.root / "usr/local/lib/python3.11/dist-packages")
    (userland.root / "proc").mkdir(exist_ok=True)
    (userland.root / "proc" / "cpuinfo").write_text(A72_CPUINFO)
    shutil.rmtree(downloads)
    (userland.home / "READY").write_text(RECIPE_VERSION + "\n")


def apt_options(state: Path) -> list[str]:
    """apt options for arm64 packages from this machine's Debian sources, with private state under `state`."""
    for folder in ("lists/partial", "cache/archives/partial"):
        (state / folder).mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    settings = [
        "APT::Architecture=arm64",
        "APT::Architectures::=arm64",
        "APT::Architectures::=amd64",
        f"Dir::State={state}",
        f"Dir::State::status={state / 'status'}",
        f"Dir::Cache={state / 'cache'}",
        "Debug::NoLocking=1",
        "APT::Install-Recommends=false",
    ]
    return [arg for setting in settings for arg in ("-o", setting)]


def _apt_download(state: Path) -> Path:
    """Download the arm64 packages (with dependencies) and the amd64 qemu-user-static; return the folder."""
    apt = ["apt-get", "-q", "-y", *apt_options(state)]
    run_step([*apt, "update"], "apt-get update (arm64 package lists from this machine's Debian sources)")
    run_step([*apt, "install", "--download-only", *DEBIAN_PACKAGES], "apt-get download of the arm64 packages")
    archives = state / "cache" / "archives"
    run_step([*apt, "download", "qemu-user-static:amd64"], "apt-get download qemu-user-static", cwd=archives)
    return archives


def _install_wheels(wheels: Path, target: Path) -> None:
    """pip-download aarch64 wheels (all manylinux tags, or pip picks years-old ones) and install them."""
    requirements = [_pinned(name, spec) for name, spec in WHEELS.items()]
    platform_args = [arg for tag in WHEEL_PLATFORMS for arg in ("--platform", tag)]
    common = ["--only-binary=:all:", *platform_args, "--python-version", "3.11", "--implementation", "cp"]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run_step([*pip, "download", *common, "-d", str(wheels), *requirements], "pip download of aarch64 wheels")
    run_step(
        [
            *pip,
            "install",
            *common,
            "--no-index",
            "--find-links",
            str(wheels),
            "--target",
            str(target),
            *requirements,
        ],
        "pip install of aarch64 wheels into the userland",
    )


def _pinned(name: str, spec: str) -> str:
    """The host's version of a runtime when installed (so device and host outputs compare), else `spec`."""
    try:
        return f"{name}=={metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return spec


def run_step(
    command: list[str], what: str, cwd: Path | None = None, building: str = "the arm64 userland"
) -> str:
    """Run one build command; returns its standard output, or fails naming the step."""
    completed = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False, timeout=1800)
    if completed.returncode != 0:
        tail = (completed.stderr.strip() or completed.stdout.strip()).splitlines()[-3:]
        raise DeviceError(
            f"building {building} failed at {what}: {' / '.join(tail)}",
            hint="check network access to the Debian mirror and PyPI, then retry",
        )
    return completed.stdout
