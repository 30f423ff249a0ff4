"""A tiny BERT bundle with ONNX (fp32, int8) and TFLite variants, and Rotten Tomatoes sentences."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import run_cli

MAX_LENGTH = 32


@pytest.fixture(scope="session")
def kit_bundle(tmp_path_factory: pytest.TempPathFactory, bert_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("appkit") / "bert"
    for args in (
        ["export", str(bert_dir), "--out", str(out), "--max-length", str(MAX_LENGTH)],
        ["export", str(bert_dir), "--out", str(out), "--max-length", str(MAX_LENGTH), "--format", "tflite"],
        ["quantize", str(out), "--scheme", "int8-dynamic"],
    ):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def sentences() -> list[str]:
    """300 real critic snippets (every 40th of Rotten Tomatoes) plus hard cases for the tokenizer."""
    from edgeship.sources.datasets import load_rotten_tomatoes

    texts = load_rotten_tomatoes().texts[::40][:300]
    assert len(texts) == 300
    return texts + [
        "Café naïve résumé İstanbul ΣΟΦΙΑ 東京 🎬 tab\there\u00a0nbsp",
        "",
        "a" * 150 + " tail",
        "don't!!! $5 <b>bold</b> ~50% — “quoted” …",
        "zero\u200bwidth\u2028line",
    ]


def load_client(kit_dir: Path) -> ModuleType:
    """Import the kit's reference_client.py as a module."""
    spec = importlib.util.spec_from_file_location(f"client_{kit_dir.name}", kit_dir / "reference_client.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def embedding_bundle(tmp_path_factory: pytest.TempPathFactory, encoder_dir: Path) -> Path:
    """The tiny sentence encoder (random weights, mean-pooled): ONNX fp32 and int8 with Spearman on lee,
    TFLite fp32."""
    out = tmp_path_factory.mktemp("appkit") / "encoder"
    export = ["export", str(encoder_dir), "--task", "feature-extraction", "--out", str(out)]
    for args in (
        [*export, "--max-length", str(MAX_LENGTH)],
        [*export, "--max-length", str(MAX_LENGTH), "--format", "tflite"],
        ["quantize", str(out), "--scheme", "int8-dynamic", "--eval-data", "lee"],
    ):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
    return out
