"""Feature-extraction kits: the unit-length sentence embedding in every client (Python, Node, Chromium),
semantic search by cosine, the kit's files and metadata, the variant choice on Spearman, and misuse errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeship.appkit.heads import EMBEDDING
from edgeship.devices.js_modules import js_modules
from edgeship.errors import BundleError
from tests.app.conftest import MAX_LENGTH, load_client
from tests.app.test_kit import bundle_logits
from tests.app.test_react_native_kit import node_modules_for_kit
from tests.conftest import run_cli

DIMENSION = 64
"""The tiny encoder's hidden size: the embedding's length."""


def write_kit(bundle: Path, out: Path, platform: str, *args: str) -> Path:
    result = run_cli("app", str(bundle), "--platform", platform, "--out", str(out), *args)
    assert result.returncode == 0, result.stderr
    return out / "app" / platform


def test_embedding_kit_files_metadata_and_readme(embedding_bundle: Path, tmp_path: Path) -> None:
    kit = write_kit(embedding_bundle, tmp_path, "ios")
    assets = kit / "Resources"
    metadata = json.loads((assets / "metadata.json").read_text())
    assert metadata["task"] == "feature-extraction" and metadata["labels"] == []
    assert "labels_file" not in metadata and not (assets / "labels.txt").exists()
    assert metadata["postprocessing"] == {
        "kind": "embedding",
        "output": "sentence_embedding",
        "dimension": DIMENSION,
        "pooling": "mean",
        "normalized": True,
        "similarity": "dot product (= cosine: the vectors have length 1)",
    }
    assert metadata["outputs"][0]["shape"] == [1, DIMENSION] and metadata["model"]["metric"] == "spearman"
    assert sorted(p.name for p in (kit / "Sources").iterdir()) == [
        "KitMetadata.swift",
        "OrtEmbedder.swift",
        "WordPieceTokenizer.swift",
    ]
    assert "func search(" in (kit / "Sources" / "OrtEmbedder.swift").read_text()
    assert "func cosine(" in (kit / "Sources" / "KitMetadata.swift").read_text()
    readme = (kit / "README.md").read_text()
    assert f"`sentence_embedding` is the text's embedding: {DIMENSION} floats, mean-pooled" in readme
    assert "dot product of their vectors (= cosine similarity" in readme
    assert "`metadata.json`, `vocab.txt`" in readme and "Softmax" not in readme

    android = write_kit(embedding_bundle, tmp_path / "android", "android")
    code = android / "java" / "dev" / "edgeship" / "kit"
    assert sorted(p.name for p in code.iterdir()) == [
        "KitMetadata.kt",
        "LiteRtEmbedder.kt",
        "WordPieceTokenizer.java",
    ]
    assert "runSignature" in (code / "LiteRtEmbedder.kt").read_text()
    assert "fun cosine(a: FloatArray, b: FloatArray): Float" in (code / "KitMetadata.kt").read_text()
    ort = write_kit(embedding_bundle, tmp_path / "android-ort", "android", "--artifact", "ort")
    assert "OrtEmbedder.kt" in {p.name for p in (ort / "java" / "dev" / "edgeship" / "kit").iterdir()}


@pytest.mark.parametrize(
    ("platform", "artifact", "variant", "model_file"),
    [
        ("android", None, "tflite-fp32", "model.tflite"),
        ("ios", "ort", "onnx-fp32", "model.ort"),
        ("ios", "ort", "onnx-int8-dynamic", "model.ort"),
    ],
)
def test_reference_client_reproduces_the_bundle_embeddings(
    embedding_bundle: Path,
    sentences: list[str],
    tmp_path: Path,
    platform: str,
    artifact: str | None,
    variant: str,
    model_file: str,
) -> None:
    """200 real sentences: the client's tokens are the Hugging Face tokenizer's, its vectors the bundle
    variant's own (within 1e-5) and of length 1."""
    extra = ["--artifact", artifact] if artifact else []
    kit = write_kit(embedding_bundle, tmp_path, platform, *extra, "--variant", variant)
    assets = kit / ("assets" if platform == "android" else "Resources")
    assert json.loads((assets / "metadata.json").read_text())["model"]["file"] == model_file
    texts = sentences[:200]
    feeds, expected = bundle_logits(embedding_bundle, variant, texts)
    assert expected.shape == (len(texts), DIMENSION)
    client = load_client(kit).Client(kit)
    vectors = []
    for row, text in enumerate(texts):
        inputs = client.inputs_for_text(text)
        for name in ("input_ids", "attention_mask"):
            assert np.array_equal(inputs[name][0], feeds[name][row]), (name, text)
        vectors.append(client.embed(inputs))
    diff = float(np.abs(np.array(vectors) - expected).max())
    print(f"{variant} as {model_file}: client vs bundle max abs diff {diff:.2e}")
    assert diff <= 1e-5
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_search_ranks_by_cosine_and_the_script_runs(
    embedding_bundle: Path, sentences: list[str], tmp_path: Path
) -> None:
    """A query that is one of the texts (differently cased: the same tokens) ranks it first at cosine 1; the
    whole order is the bundle's own dot products'; the script prints the same ranking."""
    kit = write_kit(embedding_bundle, tmp_path, "ios")
    module = load_client(kit)
    client = module.Client(kit)
    texts = sentences[:12]
    query = texts[7].upper()
    ranked = client.search(query, texts)
    assert ranked[0]["text"] == texts[7] and ranked[0]["score"] == pytest.approx(1.0, abs=1e-5)
    variant = json.loads((kit / "Resources" / "metadata.json").read_text())["model"]["variant"]
    _, vectors = bundle_logits(embedding_bundle, variant, [query, *texts])
    scores = vectors[1:] @ vectors[0]
    assert [row["text"] for row in ranked] == [texts[i] for i in np.argsort(-scores, kind="stable")]
    np.testing.assert_allclose([row["score"] for row in ranked], np.sort(scores)[::-1], atol=1e-5)
    assert module.cosine(vectors[1], vectors[1] * 3) == pytest.approx(1.0)

    script = [sys.executable, str(kit / "reference_client.py"), str(kit)]
    done = subprocess.run([*script, "--query", query, *texts[:4], texts[7]], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["rank"] for line in lines] == [1, 2, 3, 4, 5] and lines[0]["text"] == texts[7]
    done = subprocess.run([*script, "a text"], capture_output=True, text=True, check=True)
    assert len(json.loads(done.stdout)["embedding"]) == DIMENSION


def test_misuse_is_named(embedding_bundle: Path, kit_bundle: Path, tmp_path: Path) -> None:
    """Classifier calls on an embedding kit, --query on a classifier kit, --image on a text kit, and an
    exported graph that does not pool: each says what is wrong and what to do instead."""
    kit = write_kit(embedding_bundle, tmp_path / "embed", "ios")
    client = load_client(kit).Client(kit)
    with pytest.raises(
        ValueError, match=r"returns a sentence embedding, not label scores: use embed_text\(\)"
    ):
        client.classify(client.inputs_for_text("a text"))
    with pytest.raises(ValueError, match="search needs at least one text"):
        client.search("a query", [])
    script = [sys.executable, str(kit / "reference_client.py"), str(kit)]
    image = subprocess.run([*script, "--image", "photo.png"], capture_output=True, text=True)
    assert image.returncode == 2 and "--image: this kit's model takes text" in image.stderr
    empty = subprocess.run([*script, "--query", "a question"], capture_output=True, text=True)
    assert empty.returncode == 2 and "--query needs texts to rank" in empty.stderr

    classifier = write_kit(kit_bundle, tmp_path / "classify", "ios")
    script = [sys.executable, str(classifier / "reference_client.py"), str(classifier)]
    query = subprocess.run([*script, "--query", "q", "a text"], capture_output=True, text=True)
    assert (
        query.returncode == 2
        and "--query ranks texts by similarity, which needs an embedding" in query.stderr
    )
    with pytest.raises(ValueError, match="this kit's model classifies"):
        load_client(classifier).Client(classifier).embed_text("a text")

    with pytest.raises(
        BundleError, match=r"outputs 'last_hidden_state' of shape \[1, 32, 64\], not one embedding"
    ):
        EMBEDDING.check_output({"name": "last_hidden_state", "shape": [1, 32, 64]}, "onnx-fp32")
    EMBEDDING.check_output({"name": "sentence_embedding", "shape": [1, 64]}, "onnx-fp32")


def _set_variants(bundle: Path, copy: Path, **changes: dict[str, Any]) -> Path:
    """A copy of `bundle` whose manifest variants get `changes` (by variant id, '_' for '-')."""
    shutil.copytree(bundle, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    for variant in manifest["variants"]:
        for field, value in changes.get(variant["id"].replace("-", "_"), {}).items():
            if field == "parity":
                variant["parity"].update(value)
            else:
                variant[field] = value
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@pytest.mark.parametrize(
    ("int8", "max_drop", "chosen", "words"),
    [
        (
            {"accuracy": 0.795},
            "1",
            "onnx-int8-dynamic",
            "within 1 point(s) (0.01 spearman) of the best spearman (0.800)",
        ),
        ({"accuracy": 0.785}, "1", "onnx-fp32", "spearman 0.800,"),
        ({"accuracy": 0.785}, "2", "onnx-int8-dynamic", "spearman 0.785,"),
        (
            {"accuracy": None, "parity": {"argmax_agreement": 0.97, "cosine": 0.99}},
            "1",
            "onnx-int8-dynamic",
            "no spearman measured",
        ),
        (
            {"accuracy": None, "parity": {"argmax_agreement": 0.97, "cosine": 0.90}},
            "1",
            "onnx-fp32",
            "every cosine >= 0.95",
        ),
        (
            {"accuracy": None, "parity": {"argmax_agreement": 0.90, "cosine": 0.99}},
            "1",
            "onnx-fp32",
            "top-10 neighbours",
        ),
    ],
)
def test_choice_reads_spearman_in_points_and_neighbour_agreement(
    embedding_bundle: Path, tmp_path: Path, int8: dict[str, Any], max_drop: str, chosen: str, words: str
) -> None:
    """A point of --max-accuracy-drop is 0.01 of Spearman (as quantize counts it); without Spearman, int8
    qualifies on neighbour overlap and cosine; the reason shows Spearman as the number it is, not a %."""
    fp32 = {"accuracy": 0.8 if int8["accuracy"] is not None else None}
    bundle = _set_variants(embedding_bundle, tmp_path / "bundle", onnx_fp32=fp32, onnx_int8_dynamic=int8)
    kit = write_kit(bundle, tmp_path, "ios", "--max-accuracy-drop", max_drop)
    model = json.loads((kit / "Resources" / "metadata.json").read_text())["model"]
    assert model["variant"] == chosen and words in model["chosen_because"], model["chosen_because"]
    assert "%" not in model["chosen_because"].split(" is ")[0]


MODULES = js_modules()


def test_react_native_embedding_kit_in_node(
    embedding_bundle: Path, sentences: list[str], tmp_path: Path
) -> None:
    """The kit's EdgeshipEmbedder.js (package.json main) on onnxruntime-node: vectors within 1e-4 of the bundle's,
    search in the Python client's order, classifyText and an empty search refused by name."""
    assert MODULES is not None and shutil.which("node"), "npm ci in js/ (scripts/setup.sh)"
    kit = write_kit(embedding_bundle, tmp_path, "react-native")
    assert {p.name for p in (kit / "src").iterdir()} == {"EdgeshipEmbedder.js", "kit-core.js"}
    assert json.loads((kit / "package.json").read_text())["main"] == "src/EdgeshipEmbedder.js"
    metadata = json.loads((kit / "assets" / "metadata.json").read_text())
    assert not (kit / "assets" / "labels.txt").exists()
    node_modules_for_kit(kit, MODULES)
    texts = sentences[:60]
    query = "a gripping, beautifully acted drama"
    (tmp_path / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    script = str(Path(__file__).with_name("rn_classify.mjs"))
    done = subprocess.run(
        ["node", script, str(kit), str(tmp_path / "texts.json"), query],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NODE_PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    vectors = np.array([line["embedding"] for line in lines[: len(texts)]])
    _, expected = bundle_logits(embedding_bundle, metadata["model"]["variant"], texts)
    diff = float(np.abs(vectors - expected).max())
    print(f"React Native kit in Node vs bundle: max abs diff {diff:.2e}")
    assert diff <= 1e-4
    client = load_client(kit).Client(kit)
    python_order = [row["text"] for row in client.search(query, texts)]
    node_order = [row["text"] for row in lines[len(texts)]["search"]]
    assert node_order[:10] == python_order[:10]
    errors = lines[len(texts) + 1]["errors"]
    assert errors[0].startswith("this kit's model returns sentence embeddings, not labels: use embedText")
    assert errors[1] == "search needs at least one text to rank against the query"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from edgeship.devices.chromium import chromium

    assert MODULES is not None, "npm ci in js/ (scripts/setup.sh) installs the kit's JavaScript runtimes"
    with chromium() as driver:
        yield driver


SEARCH = """
const [query, texts, runs, done] = arguments;
const result = document.getElementById('result');
document.getElementById('text').value = query;
document.getElementById('documents').value = texts.join('\\n');
document.getElementById('run').click();
const wait = () => Number(result.dataset.runs || 0) > runs
  ? done({embedding: JSON.parse(result.dataset.embedding), ranking: JSON.parse(result.dataset.ranking),
          closest: document.getElementById('label').textContent,
          rows: document.getElementById('scores').rows.length,
          latency: document.getElementById('latency').textContent})
  : setTimeout(wait, 5);
wait();
"""


@pytest.mark.parametrize(
    ("artifact", "variant", "exact"), [("onnx", "onnx-fp32", 1e-4), ("tflite", "tflite-fp32", 1e-3)]
)
def test_web_embedding_kit_in_chromium(
    embedding_bundle: Path,
    sentences: list[str],
    tmp_path: Path,
    browser: Any,
    artifact: str,
    variant: str,
    exact: float,
) -> None:
    """The page's semantic search (onnxruntime-web / LiteRT.js): the query's vector within `exact` of the bundle
    variant's, the sentences in the Python client's order with its scores, and the kit-time screenshot kept."""
    from edgeship.devices.chromium import open_kit_page, serve_kit

    kit = write_kit(embedding_bundle, tmp_path, "web", "--artifact", artifact, "--variant", variant)
    assert (kit / "screenshot.png").stat().st_size > 10_000  # `edgeship app` searched in Chromium
    assert "semantic-search demo" in (kit / "README.md").read_text()
    texts = sentences[:8]
    query = texts[3].upper()
    client = load_client(kit).Client(kit)
    expected = client.search(query, texts)
    _, vectors = bundle_logits(embedding_bundle, variant, [query])
    assert MODULES is not None
    with serve_kit(kit, MODULES) as url:
        page = open_kit_page(browser, url)
        assert ("LiteRT.js" if artifact == "tflite" else "onnxruntime-web") in page["runtime"]
        shown = browser.execute_async_script(SEARCH, query, texts, 0)
    np.testing.assert_allclose(shown["embedding"], vectors[0], atol=exact)
    assert [row["text"] for row in shown["ranking"]] == [row["text"] for row in expected]
    np.testing.assert_allclose(
        [r["score"] for r in shown["ranking"]], [r["score"] for r in expected], atol=exact
    )
    assert shown["closest"] == f"Closest: {texts[3]}" and shown["rows"] == len(texts)
    assert shown["latency"].endswith(f"ms for {len(texts) + 1} texts in the browser (model runs only)")
    assert (
        json.loads((kit / "model" / "metadata.json").read_text())["preprocessing"]["max_length"] == MAX_LENGTH
    )
