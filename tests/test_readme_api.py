"""README's Python API example runs as written: a plain torch module with a custom head, exported with
parity, quantized and scored, offline."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

from edgeship.bundle import Bundle

README = Path(__file__).resolve().parents[1] / "README.md"


def api_example() -> str:
    """The first Python block of README's "Python API" section."""
    section = README.read_text(encoding="utf-8").split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "README's Python API section has no python block"
    return match.group(1)


def test_the_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(api_example(), "README.md", "exec"), {"__name__": "readme"})  # noqa: S102
    manifest = Bundle.open(tmp_path / "out" / "api-demo").manifest
    assert manifest.source.framework == "torch" and manifest.source.task == "text-classification"
    assert str(tmp_path) not in manifest.source.model and os.sep not in manifest.source.model
    fp32, int8 = manifest.variant("onnx-fp32"), manifest.variant("onnx-int8-dynamic")
    assert fp32 is not None and fp32.parity is not None and fp32.parity.argmax_agreement == 1.0
    assert fp32.parity.max_abs_diff <= fp32.parity.tolerance
    assert int8 is not None and int8.bytes < 0.4 * fp32.bytes
    for variant in (fp32, int8):
        assert variant.accuracy is not None and variant.evaluated_on is not None
        assert variant.evaluated_on.samples == 16
    assert "onnx-int8-dynamic" in printed.getvalue()
