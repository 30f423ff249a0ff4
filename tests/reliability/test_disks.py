"""Full and read-only disks (a real tmpfs): one clear line, exit 1, the bundle exactly as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.conftest import CliRecorder, assert_clean_error, tree_state

DISK_MB = 40


@pytest.fixture()
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 40 MB tmpfs of its own (mounting needs root, as CI has)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> None:
    """Take every free byte of the disk."""
    with (disk / "filler").open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 16))
                handle.flush()
        except OSError:
            pass


def remount_read_only(disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)


def args_for(command: str, text_csv: Path) -> list[str]:
    return {
        "quantize": ["--scheme", "int4-weight"],
        "eval": ["--data", str(text_csv)],
        "bench": ["--runs", "2", "--warmup", "0", "--threads", "1"],
        "app": ["--platform", "ios"],
    }[command]


@pytest.mark.parametrize("command", ["quantize", "eval", "bench", "app"])
def test_a_full_disk_is_named_and_the_bundle_kept(
    disk: Path, exported: Path, edgeship_cli: CliRecorder, text_csv: Path, command: str
) -> None:
    bundle = Path(shutil.copytree(exported, disk / "bert"))
    fill(disk)
    before = tree_state(bundle)
    result = edgeship_cli(command, str(bundle), *args_for(command, text_csv))
    assert_clean_error(result, "the disk is full", "nothing was kept")
    assert tree_state(bundle) == before


@pytest.mark.parametrize("command", ["quantize", "eval", "bench", "app"])
def test_a_read_only_bundle_is_refused_before_any_work(
    disk: Path, exported: Path, edgeship_cli: CliRecorder, text_csv: Path, command: str
) -> None:
    bundle = Path(shutil.copytree(exported, disk / "bert"))
    remount_read_only(disk)
    before = tree_state(bundle)
    result = edgeship_cli(command, str(bundle), *args_for(command, text_csv))
    line = assert_clean_error(result, str(bundle))
    assert "read-only file system" in line.lower(), line
    assert tree_state(bundle) == before


def test_export_onto_a_full_disk_says_so(disk: Path, bert_dir: Path, edgeship_cli: CliRecorder) -> None:
    fill(disk)
    result = edgeship_cli("export", str(bert_dir), "--out", str(disk / "bert"))
    line = assert_clean_error(result, "the disk is full")
    assert "--opset" not in line
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]
