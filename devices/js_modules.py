"""Where the JavaScript runtimes of the web and React Native kits are installed (npm ci in js/)."""

from __future__ import annotations

import os
from pathlib import Path


def js_modules() -> Path | None:
    """node_modules holding onnxruntime-web: $EDGESHIP_JS_MODULES, else the checkout's js/node_modules."""
    configured = os.environ.get("EDGESHIP_JS_MODULES")
    candidates = [Path(configured)] if configured else []
    candidates.append(Path(__file__).resolve().parents[1] / "js" / "node_modules")
    return next((path for path in candidates if (path / "onnxruntime-web").is_dir()), None)
