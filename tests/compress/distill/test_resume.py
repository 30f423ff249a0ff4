"""`edgeship distill` end to end: a student bundle, kill -9 mid-run and --resume, bad input, determinism."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from edgeship.bundle import Bundle
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def reviews_csv(tmp_path_factory: pytest.TempPathFactory, text_rows: list[dict[str, str]]) -> Path:
    """400 labelled sentences (the shared rows, ten times over)."""
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(text_rows * 10)
    return path


def distill_args(teacher: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "distill", "--teacher", str(teacher), "--student", "tinybert", "--hidden-size", "32", "--layers", "2",
        "--data", str(data), "--out", str(out), "--epochs", "2", "--batch-size", "4", "--seed", "3", *extra,
    ]  # fmt: skip


def test_distill_writes_a_student_bundle_that_names_its_teacher(
    bert_dir: Path, text_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "student"
    result = run_cli(*distill_args(bert_dir, text_csv, out))
    assert result.returncode == 0, result.stderr
    manifest = Bundle.open(out).manifest
    assert manifest.source.role == "student" and manifest.source.teacher == str(bert_dir)
    assert manifest.source.labels == ["negative", "neutral", "positive"]
    assert [v.id for v in manifest.variants] == ["onnx-fp32"] and manifest.variants[
        0
    ].parity.argmax_agreement == 1.0
    assert {p.name for p in (out / "student").iterdir()} >= {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    }
    record = json.loads((out / "distill.json").read_text())
    assert record["student_parameters"] < record["teacher_parameters"] and record["steps"] == 2 * 9
    assert "Student" in result.stdout and "parameters vs teacher" in result.stdout
    # the student bundle takes quantize like any other
    quantized = run_cli("quantize", str(out), "--scheme", "int8-dynamic")
    assert quantized.returncode == 0, quantized.stderr
    # the same output again: refused, nothing lost
    again = run_cli(*distill_args(bert_dir, text_csv, out))
    assert again.returncode == 1 and "error:" in again.stderr


@pytest.mark.slow  # about 100 s on 2 cores: two full distillations and a killed one
def test_kill_9_mid_run_then_resume_matches_an_uninterrupted_run(
    bert_dir: Path, reviews_csv: Path, tmp_path: Path
) -> None:
    reference = run_cli(*distill_args(bert_dir, reviews_csv, tmp_path / "reference"))
    assert reference.returncode == 0, reference.stderr
    out, checkpoints = tmp_path / "killed", tmp_path / "checkpoints"
    args = distill_args(
        bert_dir, reviews_csv, out, "--checkpoint-every", "10", "--checkpoint-dir", str(checkpoints)
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "edgeship", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not (checkpoints.is_dir() and any(p.name.startswith("step-") for p in checkpoints.iterdir())):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL and not out.exists()
    latest = max(
        int(p.name.removeprefix("step-")) for p in checkpoints.iterdir() if p.name.startswith("step-")
    )
    assert latest % 10 == 0 and latest < 180
    # a checkpoint of this run refuses a different run
    other = run_cli(
        *distill_args(bert_dir, reviews_csv, tmp_path / "other", "--lr", "3e-4", "--resume", str(checkpoints))
    )
    assert other.returncode == 1 and "written by another run" in other.stderr
    resumed = run_cli(*args, "--resume", str(checkpoints))
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming from step {latest} of 180" in resumed.stderr.replace("\n", " ")
    expected = load_file(str(tmp_path / "reference" / "student" / "model.safetensors"))
    got = load_file(str(out / "student" / "model.safetensors"))
    assert expected.keys() == got.keys()
    worst = max(float((expected[k] - got[k]).abs().max()) for k in expected)
    assert worst < 1e-5, worst


def test_bad_input_is_one_clear_error(
    bert_dir: Path, tmp_path: Path, text_rows: list[dict[str, str]]
) -> None:
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("text\n" + "\n".join(r["text"] for r in text_rows) + "\n")
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in text_rows[:5]))
    enough = tmp_path / "enough.csv"
    enough.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in text_rows))
    cases = {
        "need a text column": ["--data", str(unlabelled)],
        "at least 16": ["--data", str(tiny)],
        "vision model but the teacher": ["--data", str(enough), "--student", "efficientformer"],
        "no checkpoint in": ["--data", str(enough), "--resume", str(tmp_path)],
    }
    for message, extra in cases.items():
        args = ["distill", "--teacher", str(bert_dir), "--out", str(tmp_path / "never"), *extra]
        result = run_cli(*args)
        assert result.returncode == 1 and message in result.stderr, (message, result.stderr)
        assert "Traceback" not in result.stderr and not (tmp_path / "never").exists()
