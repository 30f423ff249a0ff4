"""Bad input: one line naming the problem and the fix, a non-zero exit, nothing half-written."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from edgeship.errors import ParityError
from tests.conftest import run_cli


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "(hint: " in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def export_error(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    out = tmp_path / "bundle"
    result = run_cli("export", *args, "--out", str(out))
    assert not out.exists(), "a failed export must not leave a bundle behind"
    assert not list(tmp_path.glob(".bundle.staging-*"))
    return result


def test_missing_model_path(tmp_path: Path) -> None:
    result = export_error(tmp_path, str(tmp_path / "no-such-model"))
    assert_one_line_error(result, "does not exist")


def test_hub_id_while_offline(tmp_path: Path) -> None:
    result = export_error(tmp_path, "some-org/some-model")
    assert_one_line_error(result, "offline", "--local-dir")


def test_unknown_timm_name(tmp_path: Path) -> None:
    result = export_error(tmp_path, "timm:efficientformer_v9")
    assert_one_line_error(result, "is not a timm model", "did you mean")


def test_unsupported_architecture(tmp_path: Path, tokenizer_dir: Path) -> None:
    import transformers

    model_dir = tmp_path / "masked-lm"
    transformers.BertForMaskedLM(
        transformers.BertConfig(
            hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
        )
    ).save_pretrained(model_dir)
    result = export_error(tmp_path, str(model_dir))
    assert_one_line_error(result, "BertForMaskedLM", "--task")


def test_truncated_weights_file(tmp_path: Path, bert_dir: Path) -> None:
    broken = tmp_path / "broken-bert"
    shutil.copytree(bert_dir, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result = export_error(tmp_path, str(broken))
    assert_one_line_error(result, "corrupt or truncated")


def test_truncated_timm_checkpoint(tmp_path: Path, efficientformer_checkpoint: Path) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(efficientformer_checkpoint.read_bytes()[:1000])
    result = export_error(tmp_path, "timm:efficientformerv2_s0", "--checkpoint", str(broken))
    assert_one_line_error(result, "could not read checkpoint", "corrupt")


def test_output_under_a_file_is_unwritable(tmp_path: Path, bert_dir: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_cli("export", str(bert_dir), "--out", str(blocker / "bundle"))
    assert_one_line_error(result, "cannot write to")
    assert blocker.read_text() == "not a directory"


def test_output_that_is_a_non_bundle_directory(tmp_path: Path, bert_dir: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    result = run_cli("export", str(bert_dir), "--out", str(occupied))
    assert_one_line_error(result, "not an edgeship bundle")
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("command", ["bench", "eval", "info"])
def test_a_directory_that_is_not_a_bundle(tmp_path: Path, command: str, text_csv: Path) -> None:
    extra = ["--data", str(text_csv)] if command == "eval" else []
    result = run_cli(command, str(tmp_path), *extra)
    assert_one_line_error(result, "is not an edgeship bundle")


def test_unknown_format(tmp_path: Path, bert_dir: Path) -> None:
    result = export_error(tmp_path, str(bert_dir), "--format", "coreml")
    assert_one_line_error(result, "--format: unknown format 'coreml'", "onnx")


def test_parity_failure_writes_nothing(
    tmp_path: Path, bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgeship.export import archs
    from edgeship.pipeline.export import export_model

    monkeypatch.setitem(archs.ARCH_CONFIGS, "bert", archs.ArchConfig(ort_optimizer="bert", tolerance=1e-12))
    out = tmp_path / "bundle"
    with pytest.raises(ParityError, match="disagrees with PyTorch"):
        export_model(str(bert_dir), out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run_cli("--debug", "export", str(tmp_path / "missing"), "--out", str(tmp_path / "b"))
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "ModelNotFoundError" in result.stderr
