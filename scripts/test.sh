#!/usr/bin/env bash
# Set up .venv if needed, lint, then run the default test suite (slow, qemu and gpu suites excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy edgeship compress export runtimes devices
HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -m "not slow and not qemu and not gpu" "$@"
