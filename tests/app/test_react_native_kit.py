"""The React Native kit's module run under Node.js with onnxruntime-node (onnxruntime-react-native's API)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from edgeship.devices.js_modules import js_modules
from tests.app.conftest import load_client
from tests.app.test_kit import bundle_logits
from tests.conftest import run_cli


def node_modules_for_kit(kit: Path, modules: Path) -> None:
    """The app's node_modules as an RN app would have them, with onnxruntime-node standing in for
    onnxruntime-react-native (same onnxruntime-common API)."""
    target = kit / "node_modules"
    (target / "@huggingface").mkdir(parents=True)
    (target / "@huggingface" / "tokenizers").symlink_to(modules / "@huggingface" / "tokenizers")
    (target / "onnxruntime-react-native").symlink_to(modules / "onnxruntime-node")
    for name in ("onnxruntime-common",):
        (target / name).symlink_to(modules / name)


def test_react_native_kit_in_node_matches_the_bundle(
    kit_bundle: Path, sentences: list[str], tmp_path: Path
) -> None:
    modules = js_modules()
    assert modules is not None and shutil.which("node"), "npm ci in js/ (scripts/setup.sh)"
    result = run_cli("app", str(kit_bundle), "--platform", "react-native", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    kit = tmp_path / "app" / "react-native"
    metadata = json.loads((kit / "assets" / "metadata.json").read_text())
    variant = metadata["model"]["variant"]
    assert metadata["model"]["file"] == "model.ort" and variant == "onnx-int8-dynamic"
    assert "smallest" in metadata["model"]["chosen_because"]
    assert {p.name for p in (kit / "src").iterdir()} == {"EdgeshipClassifier.js", "kit-core.js"}
    assert "onnxruntime-react-native" in json.loads((kit / "package.json").read_text())["dependencies"]

    node_modules_for_kit(kit, modules)
    texts = sentences[:200]
    (tmp_path / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    done = subprocess.run(
        ["node", str(Path(__file__).with_name("rn_classify.mjs")), str(kit), str(tmp_path / "texts.json")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NODE_PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    _, expected = bundle_logits(kit_bundle, variant, texts)
    client = load_client(kit).Client(kit)
    np.testing.assert_allclose(np.array([a["logits"] for a in answers]), expected, atol=1e-4)
    for text, answer in zip(texts, answers, strict=True):
        assert answer["label"] == client.classify(client.inputs_for_text(text))["label"], text
