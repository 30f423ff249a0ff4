"""Kit-time check that the web kit's runtime, onnxruntime-web, loads and runs the chosen ONNX variant."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from pathlib import Path

from edgeship.appkit.platforms import Platform
from edgeship.devices.js_modules import js_modules
from edgeship.errors import BundleError
from edgeship.manifest import Variant

CHECK_TIMEOUT_S = 300


def check_runs_in_browser_runtime(source: Path, variant: Variant, platform: Platform) -> list[str]:
    """Raise BundleError naming the variant when onnxruntime-web cannot run it; returns what was not checked."""
    if platform.name != "web":
        return []
    if variant.format != "onnx":
        return [
            f"{variant.id} was not run in LiteRT.js at kit time (it runs only in a browser); open the page"
        ]
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
