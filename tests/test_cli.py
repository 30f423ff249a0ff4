"""The CLI front door: help, version, lazy heavy imports, registered commands."""

from __future__ import annotations

import subprocess
import sys

from edgeship import __version__
from tests.conftest import run_cli


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"edgeship {__version__}"


def test_help_lists_every_registered_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("export", "bench", "eval", "demo", "info", "schema"):
        assert command in result.stdout


def test_export_help_lists_the_registered_formats() -> None:
    result = run_cli("export", "--help")
    assert result.returncode == 0 and "Artifact format: onnx" in result.stdout


def test_help_does_not_import_heavy_libraries() -> None:
    probe = (
        "import sys; from edgeship.cli import register_commands; register_commands(); "
        "heavy = [m for m in ('torch', 'transformers', 'onnxruntime', 'onnx', 'timm') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == ""


def test_usage_errors_exit_non_zero() -> None:
    result = run_cli("export")
    assert result.returncode == 2 and "Missing argument" in result.stderr
    result = run_cli("frobnicate")
    assert result.returncode == 2
