#!/usr/bin/env bash
# Set up .venv and system packages if needed, lint, then run the default test suite: slow and gpu
# suites excluded; the qemu suite runs (its arm64 userland is built once into ~/.cache/edgeship).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy edgeship compress export runtimes devices sources tasks
HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -m "not slow and not gpu" "$@"
