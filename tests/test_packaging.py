"""One import namespace: the wheel and the editable install both import everything as `edgeship.*`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import edgeship.compress
import edgeship.devices
import edgeship.export
import edgeship.runtimes

REPO = Path(__file__).resolve().parents[1]
SUBPACKAGES = {"compress": "compress", "export": "export", "runtimes": "runtimes", "devices": "devices"}


def test_editable_install_maps_the_top_level_folders_into_the_namespace() -> None:
    for attribute, folder in SUBPACKAGES.items():
        module = getattr(edgeship, attribute)
        assert Path(module.__file__).resolve() == REPO / folder / "__init__.py"


def test_wheel_holds_only_the_edgeship_namespace_and_imports_the_same_way(tmp_path: Path) -> None:
    # build from a copy: setuptools leaves build/ next to the sources, and stale files there leak into wheels
    source = tmp_path / "source"
    skipped = shutil.ignore_patterns(".git", ".venv", "out", "build", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(REPO, source, ignore=skipped)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("edgeship-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"edgeship"}
    for expected in (
        "edgeship/cli.py",
        "edgeship/export/onnx_exporter.py",
        "edgeship/runtimes/agent.py",
        "edgeship/sources/data.py",
        "edgeship/devices/local.py",
        "edgeship/commands/export.py",
    ):
        assert expected in names
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    probe = (
        "import edgeship.export, edgeship.sources.data, edgeship.runtimes, edgeship.devices, edgeship.errors;"
        "print(edgeship.export.__file__)"
    )
    # -S: no site-packages, so only the unpacked wheel can provide edgeship
    completed = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {probe}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == str(target / "edgeship" / "export" / "__init__.py")
