"""GPU latency without TensorRT: PyTorch fp32 / fp16 / bf16 and ONNX Runtime's CUDA provider (fp32, fp16).

Where no TensorRT can run, an NVIDIA GPU's reduced-precision speed can still be measured: PyTorch in half
precision (model.half(), bfloat16) and ONNX Runtime's CUDAExecutionProvider on the bundle's onnx-fp32 and
on an fp16 conversion of it. Batch 1 and batch 32 at the bundle's sequence length; every timed run is
wrapped in torch.cuda.synchronize() (ONNX Runtime's run returns when its outputs are on the host), after
warm-up runs; p50 / p90 per row, each p50 relative to PyTorch fp32 at the same batch, and the largest
|logit - PyTorch fp32| on the batch-32 inputs. Rows that cannot run here say why (ONNX Runtime rows need
onnxruntime-gpu; the pinned onnxruntime wheel is CPU-only) instead of failing.

    .venv/bin/python benchmarks/gpu_fallback.py [--bundle out/rotten-tomatoes-minilm | --tiny] [--runs 100]

Without a CUDA GPU it exits at once, saying so in one line.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

BATCHES = (1, 32)
ORT_MISSING = "not available: install onnxruntime-gpu"


@dataclass(frozen=True)
class Runner:
    """One row's engine: `prepare` puts the inputs where it reads them (once, untimed), `run` is timed."""

    prepare: Callable[[dict[str, np.ndarray]], Any]
    run: Callable[[Any], Any]


def require_cuda() -> Any:
    """torch, when it sees a CUDA GPU; else exit with one line."""
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("gpu_fallback: no NVIDIA GPU with CUDA is available here; nothing was measured")
    return torch


def tiny_model(work: Path) -> tuple[Any, Path, list[str], int, int]:
    """A 2-layer BERT classifier from a config (random weights) and its plain ONNX export."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
    )
    model = transformers.BertForSequenceClassification(config).eval()
    names, sequence = ["input_ids", "attention_mask"], 64
    path = work / "tiny-bert.onnx"
    ids = torch.ones((1, sequence), dtype=torch.int64)
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    torch.onnx.export(
        model,
        (ids, ids),
        str(path),
        input_names=names,
        output_names=["logits"],
        dynamic_axes={**axes, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return model, path, names, sequence, config.vocab_size


def bundle_model(bundle_dir: Path) -> tuple[Any | None, Path, list[str], int, int, str | None]:
    """The bundle's source model in PyTorch when it is still on this machine (else None and the reason
    last), its onnx-fp32 file, the input names in the model's order, sequence length and vocabulary."""
    from edgeship.bundle import Bundle
    from edgeship.errors import EdgeshipError
    from edgeship.manifest import TextPreprocessing
    from edgeship.sources.loading import load_model

    bundle = Bundle.open(bundle_dir)
    manifest = bundle.manifest
    variant = manifest.variant("onnx-fp32")
    preprocessing = manifest.preprocessing
    if variant is None or not isinstance(preprocessing, TextPreprocessing):
        raise SystemExit(f"gpu_fallback: {bundle_dir} needs an onnx-fp32 variant of a text model")
    names = [tensor.name for tensor in manifest.inputs_of(variant)]
    try:
        loaded = load_model(manifest.source.model)
        model: Any | None = loaded.logits_module()
        names, problem = list(loaded.input_names), None
    except EdgeshipError as exc:
        model, problem = None, f"not available: the source model is not here ({exc.message})"
    onnx_path = bundle.verified_file(variant)
    return model, onnx_path, names, preprocessing.max_length, preprocessing.vocab_size, problem


def make_inputs(names: list[str], batch: int, sequence: int, vocab: int) -> dict[str, np.ndarray]:
    """Token ids in the vocabulary, a full attention mask, segment 0."""
    rng = np.random.default_rng(batch)
    feeds = {}
    for name in names:
        if name == "input_ids":
            feeds[name] = rng.integers(0, vocab, (batch, sequence), dtype=np.int64)
        elif name == "attention_mask":
            feeds[name] = np.ones((batch, sequence), np.int64)
        else:
            feeds[name] = np.zeros((batch, sequence), np.int64)
    return feeds


def pytorch_runner(torch: Any, model: Any, names: list[str], dtype: Any) -> Runner:
    """The model on the GPU in `dtype`, its inputs copied to the GPU before timing (resident there)."""
    import copy

    on_gpu = copy.deepcopy(model).to("cuda", dtype=dtype).eval()

    def run(tensors: list[Any]) -> Any:
        with torch.inference_mode():
            output = on_gpu(*tensors)
        return output.logits if hasattr(output, "logits") else output

    return Runner(lambda feeds: [torch.from_numpy(feeds[name]).cuda() for name in names], run)


def ort_runner(path: Path, fp16: bool, work: Path) -> Runner | str:
    """An ONNX Runtime CUDA session on `path` (converted to fp16 with fp32 inputs / outputs when asked), or
    why there is none."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return ORT_MISSING
    if fp16:
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16

        converted = work / "model-fp16.onnx"
        try:
            onnx.save(convert_float_to_float16(onnx.load(str(path)), keep_io_types=True), str(converted))
        except Exception as exc:  # a graph the converter cannot handle: report it, measure the rest
            return f"not available: fp16 conversion failed ({type(exc).__name__}: {exc})"
        path = converted
    session = ort.InferenceSession(str(path), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    if session.get_providers()[0] != "CUDAExecutionProvider":
        return "not available: ONNX Runtime could not start its CUDA provider (CUDA / cuDNN libraries?)"
    names = [i.name for i in session.get_inputs()]
    return Runner(lambda feeds: {name: feeds[name] for name in names}, lambda f: session.run(None, f)[0])


def time_runner(torch: Any, runner: Runner, prepared: Any, runs: int, warmup: int) -> list[float]:
    """Milliseconds per run, each between two torch.cuda.synchronize() calls, after `warmup` runs."""
    for _ in range(warmup):
        runner.run(prepared)
    timings = []
    for _ in range(runs):
        torch.cuda.synchronize()
        started = time.perf_counter()
        runner.run(prepared)
        torch.cuda.synchronize()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def as_numpy(output: Any) -> np.ndarray:
    """Logits as float64 on the host (from a CUDA tensor in any dtype, or an array)."""
    if hasattr(output, "detach"):
        output = output.detach().float().cpu().numpy()
    return np.asarray(output, dtype=np.float64)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every row at batch 1 and 32: p50, p90, relative to PyTorch fp32, and logit difference from it."""
    torch = require_cuda()
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="edgeship-gpu-fallback-") as folder:
        work = Path(folder)
        if args.tiny:
            model, onnx_path, names, sequence, vocab = tiny_model(work)
            problem, source = None, "tiny BERT (2 x 64, random weights)"
        else:
            model, onnx_path, names, sequence, vocab, problem = bundle_model(args.bundle)
            source = str(args.bundle)
        engines: dict[tuple[str, str], Runner | str] = {}
        for precision, dtype in (("fp32", torch.float32), ("fp16", torch.float16), ("bf16", torch.bfloat16)):
            usable = model is not None and (dtype != torch.bfloat16 or torch.cuda.is_bf16_supported())
            reason = problem or "not available: this GPU has no bfloat16"
            engines[("pytorch", precision)] = pytorch_runner(torch, model, names, dtype) if usable else reason
        engines[("onnxruntime-cuda", "fp32")] = ort_runner(onnx_path, False, work)
        engines[("onnxruntime-cuda", "fp16")] = ort_runner(onnx_path, True, work)
        rows = []
        for batch in BATCHES:
            feeds = make_inputs(names, batch, sequence, vocab)
            reference = None
            for (engine, precision), run in engines.items():
                row: dict[str, Any] = {"engine": engine, "precision": precision, "batch": batch}
                if isinstance(run, str):
                    rows.append({**row, "status": run, "p50_ms": None, "p90_ms": None})
                    continue
                prepared = run.prepare(feeds)
                logits = as_numpy(run.run(prepared))
                if (engine, precision) == ("pytorch", "fp32"):
                    reference = logits
                timings = time_runner(torch, run, prepared, args.runs, args.warmup)
                rows.append(
                    {
                        **row,
                        "status": "ok",
                        "p50_ms": float(np.percentile(timings, 50)),
                        "p90_ms": float(np.percentile(timings, 90)),
                        "sequences_per_s": batch * 1000 / float(np.percentile(timings, 50)),
                        "max_abs_diff_vs_pytorch_fp32": (
                            float(np.max(np.abs(logits - reference))) if reference is not None else None
                        ),
                    }
                )
        baseline = {
            r["batch"]: r["p50_ms"] for r in rows if (r["engine"], r["precision"]) == ("pytorch", "fp32")
        }
        for row in rows:
            base = baseline.get(row["batch"])
            row["vs_pytorch_fp32"] = row["p50_ms"] / base if row["p50_ms"] is not None and base else None
    return {
        "settings": {
            "model": source,
            "sequence": sequence,
            "batches": list(BATCHES),
            "runs": args.runs,
            "warmup": args.warmup,
            "gpu": torch.cuda.get_device_name(),
            "compute_capability": ".".join(str(v) for v in torch.cuda.get_device_capability()),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "onnxruntime": ort.__version__,
            "onnxruntime_providers": ort.get_available_providers(),
            "host": platform.node(),
            "timing": "wall time between torch.cuda.synchronize() calls, inputs already on the GPU (PyTorch)",
        },
        "rows": rows,
    }


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    settings = result["settings"]
    table = Table(
        title=f"GPU without TensorRT: {settings['model']}, seq {settings['sequence']}, {settings['gpu']}, "
        f"p50 of {settings['runs']} runs"
    )
    for column in (
        "engine",
        "precision",
        "batch",
        "p50 ms",
        "p90 ms",
        "x pytorch fp32",
        "max |Δ| fp32",
        "status",
    ):
        table.add_column(column, justify="left" if column in ("engine", "precision", "status") else "right")
    for row in result["rows"]:
        ok = row["status"] == "ok"
        diff = row.get("max_abs_diff_vs_pytorch_fp32")
        table.add_row(
            row["engine"],
            row["precision"],
            str(row["batch"]),
            f"{row['p50_ms']:.3f}" if ok else "-",
            f"{row['p90_ms']:.3f}" if ok else "-",
            f"{row['vs_pytorch_fp32']:.2f}" if row["vs_pytorch_fp32"] is not None else "-",
            f"{diff:.2e}" if diff is not None else "-",
            row["status"],
        )
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--bundle", type=Path, default=Path("out/rotten-tomatoes-minilm"))
    source.add_argument("--tiny", action="store_true", help="a tiny BERT built from a config instead")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per row")
    parser.add_argument("--warmup", type=int, default=10, help="untimed runs before them")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu_fallback.json"))
    args = parser.parse_args()
    require_cuda()
    if not args.tiny and not (args.bundle / "manifest.json").is_file():
        raise SystemExit(
            f"gpu_fallback: no bundle at {args.bundle} (make it with `edgeship demo`, or pass --tiny)"
        )
    result = measure(args)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
