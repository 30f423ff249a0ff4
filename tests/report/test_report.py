"""`edgeship report`: Markdown + self-contained HTML with plots, and bundles that lack benchmarks or accuracy."""

from __future__ import annotations

import base64
import csv
import io
import re
import shutil
from pathlib import Path

import pytest

from edgeship.bundle import Bundle
from edgeship.report.points import Point, device_points, latest_benchmarks, pareto_front
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, bert_dir: Path, text_rows: list[dict[str, str]]) -> Path:
    root = tmp_path_factory.mktemp("report")
    data = root / "eval.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(text_rows)
    out = root / "bert"
    for args in (
        ["export", str(bert_dir), "--out", str(out), "--max-length", "16"],
        ["quantize", str(out), "--scheme", "int8-dynamic", "--eval-data", str(data)],
        ["eval", str(out), "--data", str(data)],
        ["bench", str(out), "--runs", "3", "--warmup", "1", "--threads", "1"],
    ):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
    return out


def png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    return Image.open(io.BytesIO(data)).size


def test_report_has_table_plots_and_versions(bundle: Path) -> None:
    result = run_cli("report", str(bundle))
    assert result.returncode == 0, result.stderr
    manifest = Bundle.open(bundle).manifest
    markdown = (bundle / "report.md").read_text()
    for variant in manifest.variants:
        benchmark = next(b for b in manifest.benchmarks if b.variant == variant.id)
        row = next(line for line in markdown.splitlines() if line.startswith(f"| {variant.id} | onnx |"))
        assert f"| {variant.bytes:,} |" in row and f"| {variant.accuracy:.2%} |" in row
        assert f"| {benchmark.latency_ms.p50:.2f} | {benchmark.latency_ms.p90:.2f} |" in row
    assert "| onnxruntime | " in markdown and "No quantized variant keeps any layer in float." in markdown
    plots = sorted(p.name for p in (bundle / "plots").iterdir())
    assert plots == ["accuracy-vs-latency-local.png", "size-vs-latency-local.png"]
    for name in plots:
        assert f"](plots/{name})" in markdown and png_size((bundle / "plots" / name).read_bytes()) == (
            825,
            528,
        )

    page = (bundle / "report.html").read_text()
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    embedded = [base64.b64decode(s.split(",", 1)[1]) for s in sources]
    assert sorted(embedded) == sorted((bundle / "plots" / name).read_bytes() for name in plots)
    assert "<link" not in page and "http" not in page.replace("<!DOCTYPE html>", "")


def test_pareto_front_is_fastest_then_only_more_accurate(bundle: Path) -> None:
    manifest = Bundle.open(bundle).manifest
    [benchmarks] = latest_benchmarks(manifest).values()
    points = device_points(manifest, benchmarks)
    fast, slow = sorted(points, key=lambda p: p.p50)
    assert pareto_front(points)[0] is fast
    for accuracy_slow, expected in ((0.1, [fast]), (0.9, [fast, slow])):
        fast.variant.accuracy, slow.variant.accuracy = 0.5, accuracy_slow
        assert pareto_front(points) == expected
    fast.variant.accuracy = None
    assert pareto_front([fast]) == [] and pareto_front([Point(slow.variant, slow.benchmark)]) == [slow]


def test_bundle_without_benchmarks_or_accuracy_says_so(bundle: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(bundle, bare, ignore=shutil.ignore_patterns("report.*", "plots"))
    manifest = Bundle.open(bare).manifest
    for variant in manifest.variants:
        variant.accuracy, variant.evaluated_on = None, None
    unevaluated = Bundle(bare, manifest.model_copy(deep=True))
    unevaluated.save()
    assert run_cli("report", str(bare), "--out", str(tmp_path / "r1")).returncode == 0
    markdown = (tmp_path / "r1" / "report.md").read_text()
    assert "has an accuracy, so there is no accuracy plot" in markdown
    assert sorted(p.name for p in (tmp_path / "r1" / "plots").iterdir()) == ["size-vs-latency-local.png"]

    manifest.benchmarks = []
    Bundle(bare, manifest).save()
    assert run_cli("report", str(bare), "--out", str(tmp_path / "r2")).returncode == 0
    markdown = (tmp_path / "r2" / "report.md").read_text()
    assert "No benchmarks in this bundle" in markdown and "![" not in markdown
    assert list((tmp_path / "r2" / "plots").iterdir()) == []
    assert "<img" not in (tmp_path / "r2" / "report.html").read_text()


def test_report_of_a_non_bundle_is_one_line_error(tmp_path: Path) -> None:
    result = run_cli("report", str(tmp_path))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "not an edgeship bundle" in result.stderr and not (tmp_path / "report.md").exists()
