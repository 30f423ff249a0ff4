"""The manifest schema and bundle I/O: validation with field names, versioning, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from edgeship.bundle import Bundle, new_bundle_directory, write_text_atomic
from edgeship.errors import BundleError, NotABundleError
from edgeship.manifest import Benchmark, LatencyStats, Manifest, manifest_json_schema

DOCS_SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "manifest.schema.json"


def minimal_manifest() -> dict:
    return {
        "created_with": "0.1.0",
        "source": {
            "model": "m",
            "framework": "transformers",
            "architecture": "BertForSequenceClassification",
            "task": "text-classification",
            "labels": ["a", "b"],
        },
        "inputs": [{"name": "input_ids", "dtype": "int64", "shape": ["batch", "sequence"]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", 2]}],
        "preprocessing": {"kind": "text", "tokenizer": "tokenizer", "max_length": 64, "vocab_size": 100},
        "variants": [
            {
                "id": "onnx-fp32",
                "format": "onnx",
                "precision": "fp32",
                "file": "models/onnx-fp32.onnx",
                "bytes": 3,
                "sha256": "0" * 64,
                "produced_by": {"step": "export"},
            }
        ],
    }


def test_docs_schema_is_generated_from_the_typed_model() -> None:
    assert json.loads(DOCS_SCHEMA.read_text()) == manifest_json_schema(), (
        "run: edgeship schema > docs/manifest.schema.json"
    )


def test_schema_names_the_required_keys() -> None:
    schema = manifest_json_schema()
    variant = schema["$defs"]["Variant"]["properties"]
    assert {
        "id",
        "format",
        "precision",
        "file",
        "bytes",
        "sha256",
        "parity",
        "accuracy",
        "evaluated_on",
    } <= set(variant)
    assert schema["$defs"]["Variant"]["properties"]["format"]["pattern"] == "^[a-z0-9][a-z0-9-]*$"
    assert set(schema["$defs"]["Benchmark"]["properties"]) >= {
        "variant",
        "device",
        "runtime",
        "threads",
        "batch",
        "latency_ms",
        "runs",
    }
    assert set(schema["$defs"]["LatencyStats"]["properties"]) >= {"p50", "p90", "p99", "mean", "std"}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("variants", 0, "precision"), "INT 3"),
        (("variants", 0, "accuracy"), 1.5),
        (("variants", 0, "format"), "Core ML"),
    ],
)
def test_bad_values_fail_with_the_field_name(path: tuple, value: object) -> None:
    raw = minimal_manifest()
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError) as info:
        Manifest.model_validate(raw)
    assert ".".join(str(p) for p in info.value.errors()[0]["loc"]) == ".".join(str(p) for p in path)


def test_open_reports_the_bad_field(tmp_path: Path) -> None:
    raw = minimal_manifest()
    raw["variants"][0]["precision"] = "INT 3"
    (tmp_path / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(BundleError, match="field 'variants.0.precision'"):
        Bundle.open(tmp_path)


def test_open_refuses_newer_schema_and_broken_json(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({**minimal_manifest(), "schema_version": 99}))
    with pytest.raises(BundleError, match="schema_version 99") as info:
        Bundle.open(tmp_path)
    assert info.value.hint == "upgrade edgeship"
    (tmp_path / "manifest.json").write_text("{truncated")
    with pytest.raises(BundleError, match="not valid JSON"):
        Bundle.open(tmp_path)


def test_open_refuses_a_plain_directory(tmp_path: Path) -> None:
    with pytest.raises(NotABundleError, match="no manifest.json"):
        Bundle.open(tmp_path)
    with pytest.raises(NotABundleError, match="does not exist"):
        Bundle.open(tmp_path / "missing")


def test_round_trip_and_atomic_save(tmp_path: Path) -> None:
    bundle = Bundle(tmp_path, Manifest.model_validate(minimal_manifest()))
    bundle.save()
    reopened = Bundle.open(tmp_path)
    assert reopened.manifest == bundle.manifest
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_atomic_write_keeps_the_old_file_when_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "manifest.json"
    target.write_text("old")

    def explode(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", explode)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_new_bundle_directory_appears_only_on_success(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    with pytest.raises(RuntimeError), new_bundle_directory(out) as staging:
        (staging / "models").mkdir()
        raise RuntimeError("export failed")
    assert list(tmp_path.iterdir()) == []
    with new_bundle_directory(out) as staging:
        (staging / "manifest.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_a_variant_remade_into_another_file_drops_its_benchmarks() -> None:
    """The old numbers timed another model; the same file remade keeps them (a recipe reuses its bench)."""
    manifest = Manifest.model_validate(minimal_manifest())
    stats = {"p50": 5.0, "p90": 6.0, "p99": 7.0, "mean": 5.5, "std": 0.5, "min": 4.0}
    manifest.put_benchmark(
        Benchmark(
            variant="onnx-fp32",
            device="local",
            runtime="onnxruntime",
            runtime_version="1.32.0",
            threads=1,
            batch=1,
            input_shapes={"input_ids": [1, 64]},
            latency_ms=LatencyStats(**stats),
            runs=10,
            warmup=1,
            raw="bench/local/onnx-fp32.json",
        )
    )
    variant = manifest.variants[0]
    manifest.put_variant(variant.model_copy())
    assert [b.variant for b in manifest.benchmarks] == ["onnx-fp32"]
    manifest.put_variant(variant.model_copy(update={"sha256": "1" * 64}))
    assert manifest.benchmarks == [] and manifest.variant("onnx-fp32").sha256 == "1" * 64
