"""The bad-input suite's one way to run edgeship: every run is recorded and none may reach "internal error"."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli

INTERNAL_ERROR = "internal error"
TINY_RECIPE = """\
name: {name}
teacher:
  model: {model}
data:
  train: {data}
  eval_samples: 8
export:
  max_length: 16
  parity_samples: 2
"""
"""A recipe that exports a tiny teacher and scores it, nothing more: `.format(name=, model=, data=)`."""


class CliRecorder:
    """Runs `edgeship ARGS` like run_cli and keeps every run, so the suite can check them all."""

    def __init__(self) -> None:
        self.runs: list[tuple[tuple[str, ...], subprocess.CompletedProcess]] = []

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess:
        result = run_cli(*args, env=env, cwd=cwd)
        self.runs.append((args, result))
        return result


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory, bert_dir: Path) -> Path:
    """A tiny BERT bundle with onnx-fp32 and onnx-int8-dynamic, made once for the suite (copy it to change it)."""
    out = tmp_path_factory.mktemp("reliability") / "bert"
    for args in (
        ("export", str(bert_dir), "--out", str(out)),
        ("quantize", str(out), "--scheme", "int8-dynamic"),
    ):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
    return out


@pytest.fixture()
def edgeship_cli() -> CliRecorder:
    """Run edgeship in a fresh process; the test fails if any run printed "internal error"."""
    recorder = CliRecorder()
    yield recorder
    crashed = [
        (args, result.stderr.strip()) for args, result in recorder.runs if INTERNAL_ERROR in result.stderr
    ]
    assert not crashed, f"reached {INTERNAL_ERROR!r}: {crashed}"


def assert_clean_error(result: subprocess.CompletedProcess, *fragments: str, exit_code: int = 1) -> str:
    """Ends with one `error: ... (hint: ...)` line naming the problem (progress lines may come before it),
    no traceback, the expected exit code."""
    assert result.returncode == exit_code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    line = errors[0]
    assert line.startswith("error: ") and "(hint: " in line, line
    assert INTERNAL_ERROR not in line and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in line, line
    return line


def tree_state(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes: compare before and after to prove nothing changed."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
