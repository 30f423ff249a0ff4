"""Kit-time checks of the web kit: onnxruntime-web runs the chosen ONNX variant (under Node, before the kit is
built), and the written page classifies a sample in headless Chromium (ONNX and TFLite), keeping a screenshot."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from edgeship.appkit.js_readme import SCREENSHOT
from edgeship.appkit.platforms import Platform
from edgeship.devices.chromium import PAGE_TIMEOUT_S
from edgeship.devices.js_modules import js_modules
from edgeship.errors import BundleError, DeviceError
from edgeship.manifest import Variant

CHECK_TIMEOUT_S = 300


def check_runs_in_browser_runtime(source: Path, variant: Variant, platform: Platform) -> list[str]:
    """Raise BundleError naming the variant when onnxruntime-web cannot run it; returns what was not checked."""
    if platform.name != "web":
        return []
    if variant.format != "onnx":
        return []  # LiteRT.js runs only in a browser: check_page_in_chromium runs it there
    node, modules = shutil.which("node"), js_modules()
    if node is None or modules is None:
        return [
            f"{variant.id} was not run in onnxruntime-web at kit time: "
            + ("Node.js is not installed" if node is None else "npm ci in js/ (or set EDGESHIP_JS_MODULES)")
        ]
    script = resources.files("edgeship.appkit") / "node" / "check_onnx_web.mjs"
    try:
        done = subprocess.run(
            [node, str(script), str(modules), str(source)],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [
            f"{variant.id} did not finish one run in onnxruntime-web within {CHECK_TIMEOUT_S} s at kit time"
        ]
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise BundleError(
            f"variant '{variant.id}' does not run in onnxruntime-web, the web kit's runtime: {reason}",
            hint="choose another --variant (fp32 or int8-dynamic run everywhere), or --artifact tflite",
        )
    return []


SAMPLE_TEXT = "A small model, running in this browser tab."
SAMPLE_QUERY = "Can a machine learning model run in the browser?"
"""What the check searches for in an embedding kit's page (its sentences are the page's own)."""
SAMPLE_ENTITIES = "Ada Lovelace worked with Charles Babbage in London."
"""What the check tags in a token-classification kit's page."""
SAMPLE_QUESTION = "Who worked with Charles Babbage?"
SAMPLE_CONTEXT = "Ada Lovelace worked with Charles Babbage in London on the Analytical Engine."
"""What the check asks in a question-answering kit's page."""


def check_page_in_chromium(kit: Path, variant: Variant) -> list[str]:
    """Open the written web kit in headless Chromium, classify one sample through the page's form and keep
    a screenshot in the kit; raise BundleError when the page cannot run the variant. Returns what was not
    checked (no Chromium, selenium or js/node_modules here)."""
    import importlib.util

    from edgeship.devices.chromium import chromium, open_kit_page, serve_kit

    modules = js_modules()
    absent = [
        what
        for what, present in (
            ("js/node_modules (npm ci --prefix js)", modules is not None),
            ("selenium (pip install 'edgeship[browser]')", importlib.util.find_spec("selenium") is not None),
            ("Chromium (apt-get install chromium chromium-driver)", shutil.which("chromedriver") is not None),
        )
        if not present
    ]
    if absent or modules is None:
        return [f"the page was not opened in Chromium at kit time: no {', no '.join(absent)}"]
    with chromium() as driver, serve_kit(kit, modules) as url:
        try:
            open_kit_page(driver, url)
            _classify_sample(driver)
        except DeviceError as exc:
            raise BundleError(
                f"variant '{variant.id}' does not run in the web kit's page: {exc.message}",
                hint="choose another --variant, or the other --artifact (onnx or tflite)",
            ) from exc
        driver.save_screenshot(str(kit / SCREENSHOT))
    return []


def _result_or_error(driver: Any, runs: int) -> str | None:
    """'ok' once the page has shown `runs` results, its error line if it failed, else None (keep waiting)."""
    answer: str | None = driver.execute_script(
        "const s = document.getElementById('status').textContent;"
        "if (Number(document.getElementById('result').dataset.runs || 0) >= arguments[0]) return 'ok';"
        "return s.startsWith('Error') ? s : null",
        runs,
    )
    return answer


def _classify_sample(driver: Any) -> None:
    """One sample through the page's own form: a sentence (a query for an embedding kit, a question and its
    context for a question-answering kit), or a colour-gradient image."""
    with tempfile.TemporaryDirectory(prefix="edgeship-sample-") as folder:
        if driver.execute_script("return window.edgeshipKit.metadata.preprocessing.kind") == "text":
            kind = driver.execute_script("return window.edgeshipKit.metadata.postprocessing.kind")
            text = {"embedding": SAMPLE_QUERY, "entities": SAMPLE_ENTITIES, "answer": SAMPLE_CONTEXT}.get(
                kind, SAMPLE_TEXT
            )
            driver.execute_script("document.getElementById('text').value = arguments[0]", text)
            if kind == "answer":
                driver.execute_script(
                    "document.getElementById('question').value = arguments[0]", SAMPLE_QUESTION
                )
        else:
            sample = Path(folder) / "sample.png"
            _gradient_image(driver, sample)
            driver.find_element("id", "image").send_keys(str(sample))
        _press_classify(driver)


def _gradient_image(driver: Any, path: Path) -> None:
    """A PNG of the model's resize size: a colour gradient."""
    import numpy as np
    from PIL import Image

    side = int(driver.execute_script("return window.edgeshipKit.metadata.preprocessing.resize_shorter_to"))
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    pixels = np.stack(
        [np.add.outer(ramp, ramp) / 2, np.tile(ramp, (side, 1)), np.full((side, side), 128)], -1
    )
    Image.fromarray(pixels.astype(np.uint8)).save(path)


def _press_classify(driver: Any) -> None:
    """Press Classify twice (the second latency is the warm one the screenshot shows); raise DeviceError
    with the page's error line if it fails."""
    from selenium.webdriver.support.ui import WebDriverWait

    for runs in (1, 2):
        driver.find_element("id", "run").click()
        done = WebDriverWait(driver, PAGE_TIMEOUT_S, poll_frequency=0.05).until(
            functools.partial(_result_or_error, runs=runs)
        )
        if done != "ok":
            raise DeviceError(f"the page's Classify gave {done}", hint="open the page to see why")
