"""`edgeship bench --device browser`: variants timed in headless Chromium by the web kit's own runtimes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgeship.bundle import sha256_of
from edgeship.devices.registry import get_device
from edgeship.errors import MissingDependencyError
from tests.conftest import run_cli


def bundle_copy(kit_bundle: Path, tmp_path: Path) -> Path:
    """A private copy: the session fixture is shared with other tests."""
    return Path(shutil.copytree(kit_bundle, tmp_path / "bert"))


def test_bench_in_chromium_records_rows_like_any_device(kit_bundle: Path, tmp_path: Path) -> None:
    bundle = bundle_copy(kit_bundle, tmp_path)
    result = run_cli(
        "bench", str(bundle), "--device", "browser", "--variant", "onnx-fp32", "--variant", "tflite-fp32",
        "--variant", "onnx-int8-dynamic", "--runs", "5", "--warmup", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    rows = {b["variant"]: b for b in json.loads((bundle / "manifest.json").read_text())["benchmarks"]}
    assert {v: (b["device"], b["runtime"]) for v, b in rows.items()} == {
        "onnx-fp32": ("browser", "onnxruntime-web"),
        "tflite-fp32": ("browser", "litert.js"),
        "onnx-int8-dynamic": ("browser", "onnxruntime-web"),
    }
    assert rows["onnx-fp32"]["runtime_version"] == "1.30.0"
    for variant, row in rows.items():
        assert row["latency_ms"]["p50"] > 0 and row["runs"] == 5 and row["warmup"] == 1
        assert row["threads"] >= 1 and not row["emulated"]
        assert row["input_shapes"] == {
            name: [1, 32] for name in ("input_ids", "token_type_ids", "attention_mask")
        }
        raw = json.loads((bundle / row["raw"]).read_text())
        assert row["raw"] == f"bench/browser/{variant}.json" and raw["browser"].startswith("Chromium ")

    report = run_cli("report", str(bundle))
    assert report.returncode == 0, report.stderr
    assert "browser" in (bundle / "report.md").read_text()

    # the web kit's default is now the faster ONNX variant in the browser (no accuracy: both qualify)
    kit = run_cli("app", str(bundle), "--platform", "web")
    assert kit.returncode == 0, kit.stderr
    faster = min(("onnx-fp32", "onnx-int8-dynamic"), key=lambda v: rows[v]["latency_ms"]["p50"])
    reason = json.loads((bundle / "app" / "web" / "model" / "metadata.json").read_text())["model"]
    assert reason["variant"] == faster and "is the fastest on browser" in reason["chosen_because"]


def test_browser_refuses_what_it_cannot_run_in_one_line(
    kit_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An .ort variant (the browser device runs ONNX and TFLite only); no JavaScript runtimes installed."""
    bundle = bundle_copy(kit_bundle, tmp_path)
    manifest = json.loads((bundle / "manifest.json").read_text())
    onnx = next(v for v in manifest["variants"] if v["id"] == "onnx-fp32")
    ort_file = Path(onnx["file"]).with_suffix(".ort").as_posix()
    shutil.copyfile(bundle / onnx["file"], bundle / ort_file)
    manifest["variants"].append({**onnx, "id": "ort-fp32", "format": "ort", "file": ort_file})
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2))
    assert sha256_of(bundle / ort_file) == onnx["sha256"]

    result = run_cli("bench", str(bundle), "--device", "browser", "--variant", "ort-fp32", "--runs", "1")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot run ort-fp32: it has no runtime for ort files" in lines[0], lines
    assert "onnx (onnxruntime-web) and tflite (litert.js)" in lines[0]
    assert not (bundle / "bench" / "browser").exists()

    monkeypatch.setattr("edgeship.devices.js_modules.js_modules", lambda: None)
    with pytest.raises(MissingDependencyError, match="JavaScript runtimes") as missing:
        get_device("browser").probe()
    assert "npm ci --prefix js" in missing.value.hint
