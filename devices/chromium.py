"""A web kit served on 127.0.0.1 and opened in headless Chromium: for the kit test and `--device browser`."""

from __future__ import annotations

import contextlib
import functools
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from edgeship.errors import DeviceError, MissingDependencyError

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=900,900",
)
"""No network beyond the page: this machine's closed network refuses Chromium's background calls."""
PAGE_TIMEOUT_S = 120


class _KitHandler(SimpleHTTPRequestHandler):
    """Serves the kit folder, /node_modules/ from the given folder, cross-origin isolated, quietly."""

    def __init__(self, *args: Any, kit: Path, modules: Path, **kwargs: Any) -> None:
        self.modules = modules
        super().__init__(*args, directory=str(kit), **kwargs)

    def translate_path(self, path: str) -> str:
        if path.startswith("/node_modules/"):
            relative = path.split("?", 1)[0].removeprefix("/node_modules/")
            return super().translate_path("/" + relative).replace(self.directory, str(self.modules), 1)
        return super().translate_path(path)

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


SimpleHTTPRequestHandler.extensions_map.update({".mjs": "text/javascript", ".wasm": "application/wasm"})


@contextlib.contextmanager
def serve_kit(kit: Path, modules: Path) -> Iterator[str]:
    """Serve `kit` on a free port of 127.0.0.1; yields the page's URL."""
    handler = functools.partial(_KitHandler, kit=kit, modules=modules)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium through chromedriver, with a fresh profile; yields the selenium driver."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise MissingDependencyError(
            "driving Chromium needs selenium", hint="pip install 'edgeship[browser]'"
        ) from exc
    browser, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver_path is None:
        raise DeviceError(
            "the browser device needs Chromium and ChromeDriver",
            hint="apt-get install chromium chromium-driver (scripts/setup-system.sh does)",
        )
    profile = tempfile.mkdtemp(prefix="edgeship-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_script_timeout(PAGE_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_kit_page(driver: Any, url: str) -> dict[str, Any]:
    """Load the kit's page and wait until its model is loaded; returns the page's model line and runtime."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, PAGE_TIMEOUT_S).until(
        lambda d: d.execute_script(
            "return document.body.dataset.ready === 'true' || /Could not/.test("
            "document.getElementById('model').textContent)"
        )
    )
    model_line = driver.find_element("id", "model").text
    if model_line.startswith("Could not"):
        raise DeviceError(
            f"the web kit's page failed in Chromium: {model_line}", hint="open the page to see why"
        )
    return {"model": model_line, "runtime": driver.execute_script("return window.edgeshipKit.runtime")}
