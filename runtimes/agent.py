"""edgeship benchmark agent: time one artifact on this machine and print one JSON object.

Standalone by design: it imports only the standard library, numpy and the one runtime it drives, so it
can be copied to a device as a single file and run with `python3 agent.py --model FILE --inputs JSON`.
Works on Python 3.9+.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time

import numpy as np

RUNTIME_BY_SUFFIX = {".onnx": "onnxruntime", ".ort": "onnxruntime", ".tflite": "litert"}


def make_inputs(specs: list, seed: int = 0) -> dict:
    """Random arrays for specs like {"name", "dtype", "shape", "low", "high"} (ints in [low, high))."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in specs:
        shape = tuple(int(d) for d in spec["shape"])
        dtype = np.dtype(spec["dtype"])
        if dtype.kind in "iub":
            feeds[spec["name"]] = rng.integers(spec.get("low", 0), spec.get("high", 2), size=shape).astype(
                dtype
            )
        else:
            feeds[spec["name"]] = rng.standard_normal(shape).astype(dtype)
    return feeds


def open_onnxruntime(model: str, threads: int):
    """An onnxruntime runner: returns (run_fn, runtime version)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return (lambda feeds: session.run(None, {n: feeds[n] for n in names})), ort.__version__


def open_litert(model: str, threads: int):
    """A LiteRT (or legacy tflite_runtime) runner: returns (run_fn, runtime version)."""
    try:
        from ai_edge_litert import interpreter as tfl

        version = _package_version("ai-edge-litert")
    except ImportError:
        from tflite_runtime import interpreter as tfl

        version = "tflite_runtime " + _package_version("tflite-runtime")
    interp = tfl.Interpreter(model_path=model, num_threads=threads)
    interp.allocate_tensors()
    details = {d["name"]: d for d in interp.get_input_details()}

    def run(feeds):
        for name, array in feeds.items():
            interp.set_tensor(details[name]["index"], array)
        interp.invoke()
        return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]

    return run, version


def _package_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def cpu_info() -> dict:
    """CPU model, core count and feature flags as the OS reports them."""
    info = {
        "machine": platform.machine(),
        "cores": os.cpu_count() or 0,
        "model": platform.processor(),
        "features": [],
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "cpu part") and not info["model"]:
                    info["model"] = value.strip()
                elif key in ("flags", "features") and not info["features"]:
                    info["features"] = value.split()
    except OSError:
        pass
    return info


def latency_stats(milliseconds: list) -> dict:
    """p50/p90/p99/mean/std/min of a list of latencies."""
    values = np.asarray(milliseconds, dtype=np.float64)
    return {
        "p50": float(np.percentile(values, 50)),
        "p90": float(np.percentile(values, 90)),
        "p99": float(np.percentile(values, 99)),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
    }


def benchmark(model: str, specs: list, threads: int, runs: int, warmup: int, emulated: bool = False) -> dict:
    """Load `model`, run warm-up then timed inferences, and describe the result."""
    suffix = os.path.splitext(model)[1]
    runtime = RUNTIME_BY_SUFFIX.get(suffix)
    if runtime is None:
        raise SystemExit(f"agent: unsupported artifact '{model}' (known: {', '.join(RUNTIME_BY_SUFFIX)})")
    started = time.perf_counter()
    run, version = (open_onnxruntime if runtime == "onnxruntime" else open_litert)(model, threads)
    load_ms = (time.perf_counter() - started) * 1000
    feeds = make_inputs(specs)
    for _ in range(warmup):
        run(feeds)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        run(feeds)
        timings.append((time.perf_counter() - started) * 1000)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "model": os.path.basename(model),
        "runtime": runtime,
        "runtime_version": version,
        "threads": threads,
        "runs": runs,
        "warmup": warmup,
        "input_shapes": {name: list(array.shape) for name, array in feeds.items()},
        "latency_ms": latency_stats(timings),
        "load_ms": load_ms,
        "peak_rss_mb": peak_kb / 1024 if sys.platform != "darwin" else peak_kb / 1024 / 1024,
        "cpu": cpu_info(),
        "python": platform.python_version(),
        "emulated": emulated,
    }


def main(argv: list | None = None) -> int:
    """Command line: print the benchmark result as JSON on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="artifact file (.onnx, .ort, .tflite)")
    parser.add_argument("--inputs", required=True, help="JSON list of {name, dtype, shape, low, high}")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--emulated", action="store_true", help="mark results as emulation timings")
    args = parser.parse_args(argv)
    result = benchmark(
        args.model, json.loads(args.inputs), args.threads, args.runs, args.warmup, args.emulated
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
