"""ONNX quantization of the demo teacher: agreement with fp32, accuracy, size and speed, in one run.

Reads the demo's teacher bundle (`edgeship demo` writes it; default out/rotten-tomatoes-minilm), writes
int8-dynamic with per-tensor and per-block activation scales and int4-weight (RTN, HQQ, and GPTQ on 128
training reviews) from its onnx-fp32 into a scratch folder, and scores each on the demo's 2,000 held-out
reviews (argmax agreement with fp32, accuracy), batched as `edgeship eval` does. Latency: batch 1 at the
export's 64 tokens, the median over rotated blocks (every variant timed in turn each round, so machine
noise hits all alike), 1 and 2 threads.

    .venv/bin/python benchmarks/quantize_demo.py [--bundle DIR] [--rounds 20] [--out benchmarks/results/quantize_demo.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from recorded import cpu_name

os.environ.setdefault("HF_HUB_OFFLINE", "1")
BLOCK = 10
CANDIDATES: dict[str, dict[str, Any]] = {
    "int8-dynamic, per-tensor scales": {"scheme": "int8-dynamic"},
    "int8-dynamic, per-block scales": {"scheme": "int8-dynamic", "activation_scales": "block"},
    # what `--min-agreement 0.99` keeps float: the two most sensitive MatMuls of the demo teacher
    "int8-dynamic, per-tensor, 2 layers float": {
        "scheme": "int8-dynamic",
        "keep_float": (
            "/model/bert/encoder/layer.0/output/dense/MatMul",
            "/model/bert/encoder/layer.1/output/dense/MatMul",
        ),
    },
    "int4-weight, RTN": {"scheme": "int4-weight"},
    "int4-weight, HQQ": {"scheme": "int4-weight", "int4_algorithm": "hqq"},
    "int4-weight, GPTQ": {"scheme": "int4-weight", "int4_algorithm": "gptq"},
}
CALIBRATION_SAMPLES = 128


def demo_reviews(bundle: Any) -> tuple[Any, Any]:
    """The demo's first 128 training reviews (what it calibrates on) and its 2,000 eval reviews (the
    recipe's split: 5,000 train, 2,000 eval, seed 0), encoded."""
    from edgeship.pipeline.features import encode_examples
    from edgeship.sources.datasets import load_rotten_tomatoes, split_examples

    train, evaluation = split_examples(load_rotten_tomatoes(), 2000, 5000, 0)
    calibration = encode_examples(bundle, train).head(CALIBRATION_SAMPLES)
    return calibration, encode_examples(bundle, evaluation)


def median_latencies(models: dict[str, Path], feed: dict[str, np.ndarray], threads: int, rounds: int) -> dict:
    """Median ms per model over `rounds` rounds of BLOCK runs each, models taking turns every round."""
    import onnxruntime as ort

    sessions = {}
    for name, path in models.items():
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        sessions[name] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for _ in range(3):
            sessions[name].run(None, feed)
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, session in sessions.items():
            for _ in range(BLOCK):
                start = time.perf_counter()
                session.run(None, feed)
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: float(np.median(values)) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("out/rotten-tomatoes-minilm"))
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/quantize_demo.json"))
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from edgeship.bundle import Bundle
    from edgeship.compress.quantize.onnx_backend import OnnxQuantizer, saturating_x86_host
    from edgeship.compress.quantize.spec import QuantizationSpec
    from edgeship.pipeline.features import predict_logits
    from edgeship.runtimes.base import open_session

    bundle = Bundle.open(args.bundle)
    source_variant = bundle.manifest.variant("onnx-fp32")
    assert source_variant is not None, f"{args.bundle} has no onnx-fp32 variant: run `edgeship demo` first"
    source = bundle.verified_file(source_variant)
    calibration, reviews = demo_reviews(bundle)
    with tempfile.TemporaryDirectory(prefix="quantize-demo-") as scratch:
        models = {"fp32": source}
        rows: dict[str, dict[str, Any]] = {"fp32": {"options": {}}}
        for name, fields in CANDIDATES.items():
            models[name] = Path(scratch) / f"{len(models)}.onnx"
            spec = QuantizationSpec(**fields)
            feeds = calibration.batches(1) if spec.calibrates else None
            started = time.perf_counter()
            rows[name] = {"options": OnnxQuantizer().quantize(source, models[name], spec, feeds).options}
            rows[name]["quantize_s"] = time.perf_counter() - started
        reference = predict_logits(open_session(source, "onnx"), reviews)
        for name, path in models.items():
            logits = predict_logits(open_session(path, "onnx"), reviews)
            rows[name].update(
                agreement=float(np.mean(logits.argmax(-1) == reference.argmax(-1))),
                accuracy=float(np.mean(logits.argmax(-1) == reviews.labels)),
                megabytes=path.stat().st_size / 1e6,
            )
        feed = {key: value[:1] for key, value in reviews.inputs.items()}
        for threads in (1, 2):
            for name, p50 in median_latencies(models, feed, threads, args.rounds).items():
                rows[name][f"p50_ms_{threads}t"] = p50
    table = Table(title=f"Demo teacher, ONNX Runtime, {len(reviews)} held-out reviews, batch 1 x 64 tokens")
    for column in ("variant", "agreement", "accuracy", "MB", "p50 1 thread", "p50 2 threads", "vs fp32 (1t)"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for name, row in rows.items():
        table.add_row(
            name,
            f"{row['agreement']:.4f}",
            f"{row['accuracy']:.2%}",
            f"{row['megabytes']:.1f}",
            f"{row['p50_ms_1t']:.2f} ms",
            f"{row['p50_ms_2t']:.2f} ms",
            f"{rows['fp32']['p50_ms_1t'] / row['p50_ms_1t']:.2f}x",
        )
    Console(width=140).print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    host = {"cpu": cpu_name(), "int8_sums_saturate": saturating_x86_host()}
    args.out.write_text(json.dumps({"reviews": len(reviews), "host": host, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
