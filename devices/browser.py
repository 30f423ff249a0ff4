"""The browser device: ONNX and TFLite variants timed in headless Chromium by the web kit's own JavaScript.

Each benchmark serves a throwaway folder (the kit's edgeship-web.js and kit-core.js, the model, a generated
bench.html) on 127.0.0.1 and runs it in a fresh Chromium; the page returns per-run latencies and the host
turns them into the agent's JSON result, so the rows land in the manifest like any device's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edgeship.devices.base import Completed, Device, register_transport
from edgeship.errors import DeviceError, MissingDependencyError

INSTALL_MODULES = "npm ci --prefix js (or set EDGESHIP_JS_MODULES to a node_modules folder holding them)"
INSTALL_CHROMIUM = "apt-get install chromium chromium-driver (scripts/setup-system.sh does)"
INSTALL_SELENIUM = "pip install 'edgeship[browser]'"
IMPORT_MAP = re.compile(r'<script type="importmap">.*?</script>', re.DOTALL)


@dataclass(frozen=True)
class WebRuntime:
    """A runtime the web kit runs one artifact format with."""

    name: str
    """As benchmarks and the probe name it."""
    package: str
    """Its npm package under node_modules."""


WEB_RUNTIMES = {
    "onnx": WebRuntime("onnxruntime-web", "onnxruntime-web"),
    "tflite": WebRuntime("litert.js", "@litertjs/core"),
}
"""Artifact format -> the web kit's runtime for it; other formats never run in the browser."""

BENCH_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>edgeship browser benchmark</title>
  IMPORT_MAP
  <script>
    // a module that fails to load or resolve says so, instead of leaving the page never ready
    addEventListener("error", (event) => {
      document.body.dataset.failed = event.message || `could not load ${event.target?.src ?? "a module"}`;
    }, true);
  </script>
</head>
<body>
  <script type="module">
    import { openModel } from "./src/edgeship-web.js";
    import { feedsFor } from "./src/kit-core.js";

    // mulberry32: the same random feeds every time the page runs
    function uniform(seed) {
      return () => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    // as the agent's make_inputs: integers in [low, high) (default [0, 2)), floats standard normal
    function randomValues(specs, next) {
      const values = {};
      for (const spec of specs) {
        const size = spec.shape.reduce((a, b) => a * b, 1);
        const low = spec.low ?? 0, high = spec.high ?? 2;
        const integer = !spec.dtype.startsWith("float");
        values[spec.name] = Array.from({ length: size }, () => integer
          ? low + Math.floor(next() * (high - low))
          : Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()));
      }
      return values;
    }

    async function runtimeFacts(format) {
      if (format === "tflite") {
        const litert = await import("@litertjs/core");
        try {
          return { threads: litert.getGlobalLiteRt().liteRtWasm.getThreadCount() };
        } catch {
          return { threads: null };
        }
      }
      const ort = await import("onnxruntime-web");
      return { version: ort.env.versions.web, threads: ort.env.wasm.numThreads };
    }

    window.edgeshipBench = async ({ model, format, specs, warmup, runs }) => {
      const started = performance.now();
      const opened = await openModel(new URL(model, location.href).href, format);
      const loadMs = performance.now() - started;
      const feeds = feedsFor({ inputs: specs }, randomValues(specs, uniform(0)));
      for (let i = 0; i < warmup; i++) await opened.run(feeds);
      const timings = [];
      for (let i = 0; i < runs; i++) {
        const start = performance.now();
        await opened.run(feeds);
        timings.push(performance.now() - start);
      }
      return {
        timings, loadMs, description: opened.runtime, ...(await runtimeFacts(format)),
        isolated: globalThis.crossOriginIsolated, cores: navigator.hardwareConcurrency,
      };
    };
    document.body.dataset.ready = "true";
  </script>
</body>
</html>
"""
"""bench.html: IMPORT_MAP becomes the kit's own import map (from its index.html)."""

RUN_BENCH = """
const done = arguments[arguments.length - 1];
window.edgeshipBench(arguments[0]).then(done, (error) => done({ error: String(error?.message ?? error) }));
"""


def js_runtimes() -> tuple[Path, dict[str, str]]:
    """The node_modules folder the kit's runtimes come from, and each WebRuntime found there by version."""
    from edgeship.devices.js_modules import js_modules

    modules = js_modules()
    if modules is None:
        raise MissingDependencyError(
            "the browser device needs the web kit's JavaScript runtimes (onnxruntime-web, @litertjs/core)",
            hint=INSTALL_MODULES,
        )
    found = {}
    for runtime in WEB_RUNTIMES.values():
        package = modules / runtime.package / "package.json"
        if package.is_file():
            found[runtime.name] = str(
                json.loads(package.read_text(encoding="utf-8")).get("version", "unknown")
            )
    return modules, found


def require_chromium() -> str:
    """Chromium's version line; refuses, in one line, a machine without selenium, Chromium or chromedriver."""
    if importlib.util.find_spec("selenium") is None:
        raise MissingDependencyError(
            "the browser device drives Chromium with selenium", hint=INSTALL_SELENIUM
        )
    browser = shutil.which("chromium")
    if browser is None or shutil.which("chromedriver") is None:
        raise DeviceError("the browser device needs Chromium and ChromeDriver", hint=INSTALL_CHROMIUM)
    try:
        done = subprocess.run([browser, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return "Chromium"
    return done.stdout.split(" built on")[0].strip() or "Chromium"


def write_bench_folder(folder: Path, model: Path) -> str:
    """The kit's modules, the model (hard-linked when it can be) and bench.html in `folder`; the model's URL
    relative to the page."""
    templates = resources.files("edgeship.appkit") / "templates"
    (folder / "src").mkdir()
    for source in (templates / "web" / "edgeship-web.js", templates / "js" / "kit-core.js"):
        (folder / "src" / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    import_map = IMPORT_MAP.search((templates / "web" / "index.html").read_text(encoding="utf-8"))
    if import_map is None:
        raise DeviceError("the web kit's index.html has no import map", hint="reinstall edgeship")
    page = BENCH_PAGE.replace("IMPORT_MAP", import_map.group(0))
    (folder / "bench.html").write_text(page, encoding="utf-8")
    target = folder / "model" / model.name
    target.parent.mkdir()
    try:
        os.link(model, target)
    except OSError:
        shutil.copyfile(model, target)
    return f"model/{model.name}"


@register_transport("browser")
class BrowserDevice(Device):
    """Headless Chromium on this machine, running the web kit's runtimes on WebAssembly.

    The kit picks its own thread count (onnxruntime-web: up to 4 when cross-origin isolated), so results
    report the threads the page used, whatever --threads asked for.
    """

    @property
    def address(self) -> str:
        """How the device is reached, for listings."""
        return "headless Chromium on this machine"

    def format_runtimes(self, artifact_format: str) -> tuple[str, ...]:
        """The web kit's runtime for `artifact_format` (ONNX, TFLite); none for others."""
        runtime = WEB_RUNTIMES.get(artifact_format)
        return (runtime.name,) if runtime else ()

    def runtime_hint(self, artifact_format: str) -> str:
        """How to get the web runtime, or which variants run in the browser at all."""
        if artifact_format in WEB_RUNTIMES:
            return INSTALL_MODULES
        runs = " and ".join(f"{f} ({r.name})" for f, r in WEB_RUNTIMES.items())
        return f"the browser runs only {runs} variants: pick those with --variant"

    def probe(self) -> dict[str, Any]:
        """The agent's probe, for the browser: the host CPU, Chromium, and the web runtimes installed."""
        import numpy as np

        from edgeship.runtimes.agent import cpu_info

        _, runtimes = js_runtimes()
        browser = require_chromium()
        return {
            "cpu": cpu_info(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "runtimes": runtimes,
            "gpu": None,
            "system": f"{browser} (headless) on {platform.system()} {platform.release()}",
            "free_disk_mb": shutil.disk_usage(tempfile.gettempdir()).free // (1 << 20),
        }

    def execute_agent(self, arguments: list[str], timeout: float) -> Completed:
        """The browser has no Python agent: it only benchmarks."""
        raise DeviceError(
            f"device '{self.name}' runs no Python agent (it only benchmarks ONNX and TFLite variants)",
            hint="use --device local for this",
        )

    def run_agent(
        self,
        model: str,
        inputs: list[dict[str, Any]],
        *,
        artifact_format: str,
        threads: int,
        runs: int,
        warmup: int,
        timeout: float | None = None,
        input_file: str | None = None,
        save_outputs: str | None = None,
    ) -> dict[str, Any]:
        """Time `model` in Chromium on random `inputs`; the agent's JSON result (the page's threads)."""
        name = Path(model).name
        if input_file or save_outputs:
            raise DeviceError(
                f"device '{self.name}' times random inputs only: it cannot run {name} on given inputs",
                hint="check parity on another device (e.g. --device local)",
            )
        runtime = WEB_RUNTIMES.get(artifact_format)
        if runtime is None:
            raise DeviceError(
                f"device '{self.name}' cannot run {name}", hint=self.runtime_hint(artifact_format)
            )
        modules, versions = js_runtimes()
        with tempfile.TemporaryDirectory(prefix="edgeship-browser-") as folder:
            model_url = write_bench_folder(Path(folder), Path(model))
            request = {"model": model_url, "format": artifact_format, "specs": inputs}
            page, browser = self._run_page(
                Path(folder), modules, {**request, "warmup": warmup, "runs": runs}, timeout or self.timeout
            )
        if "error" in page:
            raise DeviceError(
                f"benchmark of {name} on device '{self.name}' failed in Chromium: {page['error']}",
                hint="the web kit's runtime refused the model; try another --variant",
            )
        from edgeship.runtimes.agent import cpu_info, latency_stats

        return {
            "model": name,
            "runtime": runtime.name,
            "runtime_version": page.get("version") or versions.get(runtime.name, "unknown"),
            "threads": int(page.get("threads") or (page["cores"] if page["isolated"] else 1)),
            "runs": runs,
            "warmup": warmup,
            "input_shapes": {spec["name"]: list(spec["shape"]) for spec in inputs},
            "latency_ms": latency_stats(page["timings"]),
            "load_ms": page["loadMs"],
            "peak_rss_mb": None,
            "cpu": cpu_info(),
            "python": platform.python_version(),
            "emulated": False,
            "browser": browser,
            "page_runtime": page["description"],
            "cross_origin_isolated": page["isolated"],
        }

    def _run_page(
        self, folder: Path, modules: Path, request: dict[str, Any], timeout: float
    ) -> tuple[dict[str, Any], str]:
        """Serve `folder`, open its bench.html in a fresh Chromium and run the benchmark; (page result,
        Chromium version)."""
        from selenium.common.exceptions import TimeoutException, WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        from edgeship.devices.chromium import PAGE_TIMEOUT_S, chromium, serve_kit

        require_chromium()
        try:
            with serve_kit(folder, modules) as url, chromium() as driver:
                driver.set_script_timeout(timeout)
                driver.get(url.rsplit("/", 1)[0] + "/bench.html")
                failed = WebDriverWait(driver, PAGE_TIMEOUT_S).until(
                    lambda d: d.execute_script(
                        "const data = document.body.dataset; return data.ready === 'true' || data.failed"
                    )
                )
                result = (
                    {"error": failed}
                    if isinstance(failed, str)
                    else driver.execute_async_script(RUN_BENCH, request)
                )
                version = f"Chromium {driver.capabilities.get('browserVersion', '?')}"
        except TimeoutException as exc:
            raise DeviceError(
                f"benchmark of {Path(request['model']).name} on device '{self.name}' timed out",
                hint="use fewer --runs",
            ) from exc
        except WebDriverException as exc:
            first = (exc.msg or str(exc)).strip().splitlines()[0]
            raise DeviceError(
                f"Chromium failed on device '{self.name}': {first}", hint=INSTALL_CHROMIUM
            ) from exc
        return dict(result), version
