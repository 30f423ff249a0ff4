"""The web kit in the client it is for: served on 127.0.0.1, driven in headless Debian Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from edgeship.bundle import Bundle
from edgeship.devices.chromium import chromium, open_kit_page, serve_kit
from edgeship.devices.js_modules import js_modules
from edgeship.runtimes.base import open_session
from edgeship.sources.preprocess import load_image
from tests.app.conftest import load_client
from tests.app.test_kit import bundle_logits
from tests.conftest import run_cli

MODULES = js_modules()
SENTENCES = 200


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert MODULES is not None, "npm ci in js/ (scripts/setup.sh) installs the kit's JavaScript runtimes"
    with chromium() as driver:
        yield driver


def write_kit(bundle: Path, out: Path, *args: str) -> Path:
    result = run_cli("app", str(bundle), "--platform", "web", "--out", str(out), *args)
    assert result.returncode == 0, result.stderr
    return out / "app" / "web"


READ_RESULT = """
const result = document.getElementById('result');
if (Number(result.dataset.runs || 0) <= arguments[0]) return null;
return {label: document.getElementById('label').textContent, logits: JSON.parse(result.dataset.logits),
        latency: document.getElementById('latency').textContent};
"""


def type_and_classify(driver: Any, text: str) -> dict[str, Any]:
    """Type into the page's text box (DevTools text input), press Classify, and read what the page shows."""
    from selenium.webdriver.support.ui import WebDriverWait

    runs = driver.execute_script(
        "const box = document.getElementById('text'); box.value = ''; box.focus();"
        "return Number(document.getElementById('result').dataset.runs || 0);"
    )
    driver.execute_cdp_cmd("Input.insertText", {"text": text})  # the browser's own text input, at once
    driver.find_element("id", "run").click()
    shown: dict[str, Any] = WebDriverWait(driver, 30, poll_frequency=0.005).until(
        lambda d: d.execute_script(READ_RESULT, runs)
    )
    return shown


def test_web_kit_in_chromium_matches_the_bundle(
    kit_bundle: Path, sentences: list[str], tmp_path: Path, browser: Any
) -> None:
    """200 typed sentences: fp32 logits within 1e-4 of the bundle's, labels as the Python reference client's;
    int8 (run through the page's module) within its recorded parity of fp32."""
    kit = write_kit(kit_bundle, tmp_path / "fp32", "--variant", "onnx-fp32")
    metadata = json.loads((kit / "model" / "metadata.json").read_text())
    assert metadata["model"]["file"] == "model.onnx"
    assert {"tokenizer.json", "tokenizer_config.json", "metadata.json"} <= {
        p.name for p in (kit / "model").iterdir()
    }
    texts = [t for t in sentences[:SENTENCES]]
    _, expected = bundle_logits(kit_bundle, "onnx-fp32", texts)
    client = load_client(kit).Client(kit)

    assert MODULES is not None
    with serve_kit(kit, MODULES) as url:
        page = open_kit_page(browser, url)
        assert "onnxruntime-web 1.30.0 (WASM" in page["runtime"] and "onnx-fp32" in page["model"]
        shown = [type_and_classify(browser, text) for text in texts]
    for row, (text, answer) in enumerate(zip(texts, shown, strict=True)):
        np.testing.assert_allclose(answer["logits"], expected[row], atol=1e-4, err_msg=text)
        assert answer["label"] == client.classify(client.inputs_for_text(text))["label"], text
        assert answer["latency"].endswith("ms in the browser (model run only)")
    assert (kit / "screenshot.png").stat().st_size > 10_000  # `edgeship app` opened the page in Chromium
    assert "![The page in headless Chromium" in (kit / "README.md").read_text()

    int8 = write_kit(kit_bundle, tmp_path / "int8", "--variant", "onnx-int8-dynamic")
    _, expected_int8 = bundle_logits(kit_bundle, "onnx-int8-dynamic", texts)
    parity = Bundle.open(kit_bundle).manifest.variant("onnx-int8-dynamic").parity  # type: ignore[union-attr]
    assert parity is not None
    with serve_kit(int8, MODULES) as url:
        open_kit_page(browser, url)
        logits = np.array(
            browser.execute_async_script(
                "const [texts, done] = arguments; const out = [];"
                "for (const t of texts) out.push((await window.edgeshipKit.classifyText(t)).logits);"
                "done(out);",
                texts,
            )
        )
    np.testing.assert_allclose(logits, expected_int8, atol=1e-3)
    assert np.abs(logits - expected).max() <= parity.max_abs_diff * 1.5 + 1e-4
    agreement = float((logits.argmax(1) == expected_int8.argmax(1)).mean())
    assert agreement >= 0.99, agreement


def test_web_image_kit_in_chromium(vit_dir: Path, tmp_path: Path, browser: Any) -> None:
    """A chosen image file, through the page's file input, with ONNX (onnxruntime-web) and TFLite (LiteRT.js):
    logits within 1e-4 / 1e-3 of the bundle's own preprocessing and runtime at the model's size, close
    after the canvas resamples a larger image."""
    from selenium.webdriver.support.ui import WebDriverWait

    bundle_dir = tmp_path / "vit"
    args = ["export", str(vit_dir), "--out", str(bundle_dir)]
    assert run_cli(*args).returncode == 0
    assert run_cli(*args, "--format", "tflite").returncode == 0
    bundle = Bundle.open(bundle_dir)
    preprocessing = bundle.manifest.preprocessing
    side = preprocessing.resize_shorter_to  # type: ignore[union-attr]
    rng = np.random.default_rng(1)
    images = []
    for index, size in enumerate([(side, side), (side + 8, side)]):
        path = tmp_path / f"image{index}.png"
        Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)).save(path)
        images.append(path)
    pixels = [load_image(path, preprocessing)[None] for path in images]  # type: ignore[arg-type]
    assert MODULES is not None
    for artifact, exact in (("onnx", 1e-4), ("tflite", 1e-3)):
        kit = write_kit(bundle_dir, tmp_path / artifact, "--artifact", artifact)
        variant = next(v for v in bundle.manifest.variants if v.format == artifact)
        session = open_session(bundle.path(variant.file), variant.format)
        with serve_kit(kit, MODULES) as url:
            page = open_kit_page(browser, url)
            assert ("LiteRT.js" if artifact == "tflite" else "onnxruntime-web") in page["runtime"]
            for runs, (path, feed) in enumerate(zip(images, pixels, strict=True)):
                browser.find_element("id", "image").send_keys(str(path))
                browser.find_element("id", "run").click()
                WebDriverWait(browser, 30, poll_frequency=0.01).until(
                    lambda d, r=runs: (
                        d.execute_script("return Number(document.getElementById('result').dataset.runs || 0)")
                        > r
                    )
                )
                logits = json.loads(browser.find_element("id", "result").get_attribute("data-logits"))
                expected = session.run({"pixel_values": feed})[0][0]
                # at the model's size the pixels are exact; a larger image is resampled by the canvas,
                # unlike Pillow, and the answer stays close
                np.testing.assert_allclose(logits, expected, atol=exact if runs == 0 else 0.05)
        assert (kit / "screenshot.png").stat().st_size > 2_000
