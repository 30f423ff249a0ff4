"""`edgeship app`: kit contents, the reference client reproducing the bundle's outputs, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgeship.bundle import Bundle
from edgeship.runtimes.base import open_session
from edgeship.sources.preprocess import encode_texts, load_image
from tests.app.conftest import MAX_LENGTH, load_client
from tests.conftest import run_cli


def bundle_logits(
    bundle_dir: Path, variant_id: str, texts: list[str]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """What the bundle's own pipeline computes: Hugging Face tokenizer, the variant's file, its runtime."""
    import transformers

    bundle = Bundle.open(bundle_dir)
    variant = bundle.manifest.variant(variant_id)
    assert variant is not None
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(bundle_dir / "tokenizer"))
    names = [spec.name for spec in bundle.manifest.inputs]
    feeds = encode_texts(tokenizer, texts, MAX_LENGTH, names, pad_to_max_length=True)
    session = open_session(bundle.verified_file(variant), variant.format)
    logits = np.concatenate(
        [session.run({k: v[i : i + 1] for k, v in feeds.items()})[0] for i in range(len(texts))]
    )
    return feeds, logits


@pytest.mark.parametrize(
    ("platform", "artifact", "variant", "model_file"),
    [
        ("android", None, "tflite-fp32", "model.tflite"),
        ("ios", None, "onnx-int8-dynamic", "model.ort"),
        ("android", "ort", "onnx-fp32", "model.ort"),
    ],
)
def test_reference_client_reproduces_the_bundle(
    kit_bundle: Path,
    sentences: list[str],
    tmp_path: Path,
    platform: str,
    artifact: str | None,
    variant: str,
    model_file: str,
) -> None:
    extra = ["--artifact", artifact, "--variant", variant] if artifact else []
    result = run_cli("app", str(kit_bundle), "--platform", platform, "--out", str(tmp_path), *extra)
    assert result.returncode == 0, result.stderr
    kit = tmp_path / "app" / platform
    assets = kit / ("assets" if platform == "android" else "Resources")
    metadata = json.loads((assets / "metadata.json").read_text())
    assert metadata["model"]["variant"] == variant and metadata["model"]["file"] == model_file
    assert (assets / model_file).is_file() and not list(tmp_path.glob("app/.*"))
    if model_file == "model.ort":
        config = (assets / "required_operators_and_types.config").read_text()
        assert "ai.onnx;" in config and "com.microsoft;" in config
    assert (assets / "labels.txt").read_text().splitlines() == ["negative", "neutral", "positive"]
    assert len((assets / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]) == 30522
    dtype = "int32" if model_file == "model.tflite" else "int64"
    assert {(i["name"], i["dtype"], tuple(i["shape"])) for i in metadata["inputs"]} == {
        (name, dtype, (1, MAX_LENGTH)) for name in ("input_ids", "token_type_ids", "attention_mask")
    }

    texts = sentences[:200]
    feeds, expected = bundle_logits(kit_bundle, variant, texts)
    client = load_client(kit).Client(kit)
    for row, text in enumerate(texts):
        inputs = client.inputs_for_text(text)
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            assert np.array_equal(inputs[name][0], feeds[name][row]), (name, text)
        answer = client.classify(inputs)
        np.testing.assert_allclose(answer["logits"], expected[row], atol=1e-5)
        assert answer["label"] == metadata["labels"][int(expected[row].argmax())]
        assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_reference_client_runs_as_a_script(kit_bundle: Path, tmp_path: Path) -> None:
    assert run_cli("app", str(kit_bundle), "--platform", "ios", "--out", str(tmp_path)).returncode == 0
    kit = tmp_path / "app" / "ios"
    done = subprocess.run(
        [sys.executable, str(kit / "reference_client.py"), str(kit), "a wonderful film", "dull and long"],
        capture_output=True,
        text=True,
        check=True,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["text"] for a in answers] == ["a wonderful film", "dull and long"]
    assert all(a["label"] in ("negative", "neutral", "positive") and len(a["logits"]) == 3 for a in answers)
    sources = sorted(p.name for p in (kit / "Sources").iterdir())
    assert sources == ["KitMetadata.swift", "OrtClassifier.swift", "WordPieceTokenizer.swift"]


def test_android_kit_has_kotlin_and_java_and_is_replaced_whole(kit_bundle: Path, tmp_path: Path) -> None:
    for _ in range(2):
        assert (
            run_cli("app", str(kit_bundle), "--platform", "android", "--out", str(tmp_path)).returncode == 0
        )
    code = tmp_path / "app" / "android" / "java" / "dev" / "edgeship" / "kit"
    assert sorted(p.name for p in code.iterdir()) == [
        "KitMetadata.kt",
        "LiteRtClassifier.kt",
        "WordPieceTokenizer.java",
    ]
    assert "runSignature" in (code / "LiteRtClassifier.kt").read_text()
    assert sorted(p.name for p in (tmp_path / "app").iterdir()) == ["android"]


def test_android_without_tflite_variant_is_one_line_error(kit_bundle: Path, tmp_path: Path) -> None:
    onnx_only = tmp_path / "onnx-only"
    shutil.copytree(kit_bundle, onnx_only)
    manifest = json.loads((onnx_only / "manifest.json").read_text())
    manifest["variants"] = [v for v in manifest["variants"] if v["format"] != "tflite"]
    (onnx_only / "manifest.json").write_text(json.dumps(manifest))
    result = run_cli("app", str(onnx_only), "--platform", "android")
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "has no TFLITE variant" in result.stderr and "--format tflite" in result.stderr
    assert not (onnx_only / "app" / "android").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--platform", "windows"],
            "--platform: unknown platform 'windows' (choose from: android, ios, react-native, web)",
        ),
        (
            ["--platform", "ios", "--artifact", "coreml"],
            "--artifact: unknown artifact 'coreml' (choose from: onnx, ort, tflite)",
        ),
        (
            ["--platform", "ios", "--variant", "tflite-fp32"],
            "the ort kit needs a variant of format ort or onnx",
        ),
    ],
)
def test_bad_options_are_named(kit_bundle: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli("app", str(kit_bundle), "--out", str(tmp_path), *args)
    assert result.returncode == 1 and message in result.stderr and "hint:" in result.stderr
    assert not (tmp_path / "app" / "ios").exists()


def test_image_kit_reproduces_the_bundle(vit_dir: Path, image_folder: Path, tmp_path: Path) -> None:
    bundle_dir = tmp_path / "vit"
    assert run_cli("export", str(vit_dir), "--out", str(bundle_dir)).returncode == 0
    result = run_cli("app", str(bundle_dir), "--platform", "ios")
    assert result.returncode == 0, result.stderr
    kit = bundle_dir / "app" / "ios"
    metadata = json.loads((kit / "Resources" / "metadata.json").read_text())
    settings = metadata["preprocessing"]
    assert settings["kind"] == "image" and settings["image_size"] == [32, 32] and settings["layout"] == "NCHW"
    assert metadata["inputs"] == [
        {"name": "pixel_values", "index": 0, "dtype": "float32", "shape": [1, 3, 32, 32]}
    ]
    assert "ImagePreprocessor.swift" in {p.name for p in (kit / "Sources").iterdir()}
    bundle = Bundle.open(bundle_dir)
    session = open_session(bundle.path(bundle.manifest.variants[0].file), "onnx")
    module = load_client(kit)
    client = module.Client(kit)
    for image in sorted(image_folder.rglob("*.png")):
        pixels = module.load_image(image, settings)
        expected = load_image(image, bundle.manifest.preprocessing)  # type: ignore[arg-type]
        np.testing.assert_allclose(pixels[0], expected, atol=1e-6)
        answer = client.classify({"pixel_values": pixels})
        np.testing.assert_allclose(
            answer["logits"], session.run({"pixel_values": expected[None]})[0][0], atol=1e-5
        )


def test_a_kit_folder_with_other_files_is_refused_and_npm_installs_survive(
    kit_bundle: Path, tmp_path: Path
) -> None:
    args = ["app", str(kit_bundle), "--platform", "web", "--out", str(tmp_path)]
    assert run_cli(*args).returncode == 0
    kit = tmp_path / "app" / "web"
    (kit / "node_modules" / "x").mkdir(parents=True)  # what `npm install` in the kit adds
    assert run_cli(*args).returncode == 0 and (kit / "node_modules" / "x").is_dir()
    (kit / "src" / "my-app.js").write_text("app code\n")
    refused = run_cli(*args)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "already holds files this kit did not write (1: src/my-app.js)" in refused.stderr
    assert "--force" in refused.stderr and (kit / "src" / "my-app.js").is_file()
    assert run_cli(*args, "--force").returncode == 0 and not (kit / "src" / "my-app.js").exists()


def test_an_artifact_the_platform_does_not_run_is_one_line(kit_bundle: Path, tmp_path: Path) -> None:
    result = run_cli("app", str(kit_bundle), "--platform", "web", "--artifact", "ort", "--out", str(tmp_path))
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "the web kit runs onnx or tflite artifacts, not ort" in result.stderr
    assert not (tmp_path / "app" / "web").exists()
