"""`edgeship run`: teacher -> student -> quantized variants -> bench -> report + kit, cached per step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeship.bundle import Bundle
from tests.conftest import run_cli

RECIPE = """\
name: tiny
teacher:
  model: {model}
data:
  train: {data}
  eval_samples: 16
  split: test
export:
  max_length: 16
  parity_samples: 4
quantize:
  schemes:
    onnx: [int8-dynamic]
student:
  family: distilbert
  layers: 1
  epochs: 1
  batch_size: 8
devices:
  - name: local
    runs: 2
    warmup: 1
push:
  devices: [local]
app:
  platforms: [ios]
"""


@pytest.fixture()
def recipe(tmp_path: Path, bert_dir: Path, text_csv: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(RECIPE.format(model=bert_dir, data=text_csv))
    return path


def steps(stdout: str) -> dict[str, str]:
    """Step -> status from the run's summary table."""
    rows = [line.split("│") for line in stdout.splitlines() if line.startswith("│")]
    return {
        cells[1].strip(): cells[2].strip()
        for cells in rows
        if len(cells) > 3 and cells[2].strip() in ("ran", "cached", "skipped")
    }


def run(recipe: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    result = run_cli("run", str(recipe), "--out", str(out), *extra, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_recipe_runs_end_to_end_then_reuses_every_step(recipe: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run(recipe, out, "--mlflow")
    teacher, student = Bundle.open(out / "tiny"), Bundle.open(out / "tiny-student")
    assert [v.id for v in teacher.manifest.variants] == ["onnx-fp32", "onnx-int8-dynamic"]
    assert student.manifest.source.role == "student" and teacher.manifest.source.role == "teacher"
    assert [v.id for v in student.manifest.variants] == ["onnx-fp32", "onnx-int8-dynamic"]
    for bundle in (teacher, student):
        assert all(v.accuracy is not None and v.evaluated_on.samples == 16 for v in bundle.manifest.variants)
        assert sorted(b.variant for b in bundle.manifest.benchmarks) == ["onnx-fp32", "onnx-int8-dynamic"]
        assert (bundle.root / "report.html").is_file() and (bundle.root / "plots").is_dir()
    # the kit comes from the student
    assert (student.root / "app" / "ios" / "Resources" / "metadata.json").is_file()
    assert set(steps(first.stdout).values()) == {"ran"} and len(steps(first.stdout)) == 13
    assert any((out / "mlruns").rglob("meta.yaml")), "the MLflow file store got a run"
    manifests = {path: path.read_bytes() for path in out.glob("*/manifest.json")}

    again = run(recipe, out, "--mlflow")
    assert "nothing changed: no step ran" in again.stdout
    assert set(steps(again.stdout).values()) == {"cached"} and len(steps(again.stdout)) == 13
    assert {path: path.read_bytes() for path in out.glob("*/manifest.json")} == manifests

    # one more scheme: only its quantization, its benchmarks and what reads the manifests run again
    more = run(recipe, out, "--set", "quantize.schemes={onnx: [int8-dynamic, int4-weight]}")
    ran = {step for step, status in steps(more.stdout).items() if status == "ran"}
    assert ran == {
        "teacher/quantize/onnx/int4-weight",
        "student/quantize/onnx/int4-weight",
        "teacher/bench/local/onnx-int4-weight",
        "student/bench/local/onnx-int4-weight",
        "student/push",
        "teacher/report",
        "student/report",
        "app/ios",
    }
    int4 = Bundle.open(out / "tiny").manifest.variant("onnx-int4-weight")
    assert int4 is not None and (out / "tiny" / int4.file).is_file()

    # dropping it again removes its files and benchmarks (the bundle holds what the recipe says);
    # a new format is exported beside the others without re-exporting them
    last = run(recipe, out, "--set", "export.formats=[onnx, tflite]", "--set", "student.formats=[onnx]")
    statuses = steps(last.stdout)
    assert statuses["teacher/export/onnx"] == "cached" and statuses["teacher/export/tflite"] == "ran"
    assert statuses["teacher/prune"] == "ran" and statuses["student/distill"] == "cached"
    assert "removed onnx-int4-weight (no longer in the recipe)" in last.stdout
    pruned = Bundle.open(out / "tiny").manifest
    assert [v.id for v in pruned.variants] == ["onnx-fp32", "onnx-int8-dynamic", "tflite-fp32"]
    assert pruned.variant("tflite-fp32").accuracy is not None
    assert not (out / "tiny" / int4.file).exists()
    assert all(b.variant != "onnx-int4-weight" for b in pruned.benchmarks)


def test_a_killed_run_resumes_after_the_last_finished_step(recipe: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    state = out / ".edgeship-run" / "tiny.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "edgeship", "run", str(recipe), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and "student/distill" not in (
        state.read_text() if state.is_file() else ""
    ):
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = set(json.loads(state.read_text())["steps"])
    assert {"teacher/export/onnx", "teacher/quantize/onnx/int8-dynamic", "student/distill"} <= finished

    resumed = run(recipe, out)
    statuses = steps(resumed.stdout)
    assert {step for step, status in statuses.items() if status == "cached"} == finished
    assert {step for step, status in statuses.items() if status == "ran"} == set(statuses) - finished
    assert sorted(b.variant for b in Bundle.open(out / "tiny-student").manifest.benchmarks) == [
        "onnx-fp32",
        "onnx-int8-dynamic",
    ]


def test_recipe_errors_are_one_line_and_write_nothing(recipe: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("run", str(recipe), "--out", str(out), "--set", "student.family=giraffe")
    assert result.returncode != 0 and not (out / "tiny-student").exists()
    result = run_cli("run", str(recipe), "--out", str(out), "--set", "devices=[{name: local, variants: [x]}]")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: devices[local].variants names x")
