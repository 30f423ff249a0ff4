"""edgeship benchmark agent: time one artifact on this machine and print one JSON object.

Standalone by design: it imports only the standard library, numpy and the one runtime it drives, so it
can be copied to a device as a single file and run with `python3 agent.py --model FILE --inputs JSON`
(or `--input-file FEEDS.npz` for real inputs); `python3 agent.py --probe` describes the device instead.
Works on Python 3.9+. Exit status 3 means the runtime the artifact needs is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import time

import numpy as np

RUNTIME_BY_SUFFIX = {".onnx": "onnxruntime", ".ort": "onnxruntime", ".tflite": "litert"}
RUNTIME_MODULES = {
    "onnxruntime": "onnxruntime",
    "ai-edge-litert": "ai_edge_litert",
    "tflite-runtime": "tflite_runtime",
}
MISSING_RUNTIME_EXIT = 3
# Linux "CPU part" numbers of Arm cores (implementer 0x41) that edge boards carry.
ARM_CORES = {
    "0xd03": "Cortex-A53",
    "0xd05": "Cortex-A55",
    "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72",
    "0xd0b": "Cortex-A76",
    "0xd42": "Cortex-A78AE",
    "0xd4b": "Cortex-A78C",
}


class MissingRuntime(Exception):
    """The runtime an artifact needs cannot be imported on this machine."""


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
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingRuntime("onnxruntime") from exc

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
        try:
            from tflite_runtime import interpreter as tfl
        except ImportError as exc:
            raise MissingRuntime("ai-edge-litert") from exc
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
                    info["model"] = ARM_CORES.get(value.strip(), value.strip())
                elif key in ("flags", "features") and not info["features"]:
                    info["features"] = value.split()
    except OSError:
        pass
    return info


def runtime_versions() -> dict:
    """Each known runtime package that imports here, with its version (absent ones are left out)."""
    import importlib

    found = {}
    for package, module in RUNTIME_MODULES.items():
        try:
            importlib.import_module(module)
        except Exception:  # a broken install (wrong numpy, missing library) counts as absent
            continue
        found[package] = _package_version(package)
    return found


def probe(workdir: str) -> dict:
    """What this machine is: CPU, Python, runtimes that import, free disk under `workdir`."""
    usage = shutil.disk_usage(workdir if os.path.isdir(workdir) else os.path.expanduser("~"))
    return {
        "cpu": cpu_info(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "runtimes": runtime_versions(),
        "system": f"{platform.system()} {platform.release()}",
        "free_disk_mb": usage.free // (1 << 20),
    }


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


def load_feeds(path: str) -> dict:
    """Real inputs from an .npz file, one array per input name."""
    with np.load(path) as arrays:
        return {name: arrays[name] for name in arrays.files}


def benchmark(
    model: str,
    feeds: dict,
    threads: int,
    runs: int,
    warmup: int,
    emulated: bool = False,
    outputs_file: str | None = None,
) -> dict:
    """Load `model`, run warm-up then timed inferences on `feeds`, and describe the result."""
    suffix = os.path.splitext(model)[1]
    runtime = RUNTIME_BY_SUFFIX.get(suffix)
    if runtime is None:
        raise SystemExit(f"agent: unsupported artifact '{model}' (known: {', '.join(RUNTIME_BY_SUFFIX)})")
    started = time.perf_counter()
    run, version = (open_onnxruntime if runtime == "onnxruntime" else open_litert)(model, threads)
    load_ms = (time.perf_counter() - started) * 1000
    if outputs_file:
        np.savez(outputs_file, *run(feeds))
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
    parser.add_argument("--model", help="artifact file (.onnx, .ort, .tflite)")
    parser.add_argument("--inputs", help="JSON list of {name, dtype, shape, low, high}: random inputs")
    parser.add_argument("--input-file", help=".npz of real inputs, one array per input name")
    parser.add_argument("--save-outputs", help="write the outputs of the first run to this .npz")
    parser.add_argument("--probe", action="store_true", help="describe this machine instead of timing")
    parser.add_argument("--workdir", default=".", help="with --probe: where free disk is measured")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--emulated", action="store_true", help="mark results as emulation timings")
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(args.workdir)))
        return 0
    if not args.model or not (args.inputs or args.input_file):
        parser.error("--model and one of --inputs / --input-file are required")
    feeds = load_feeds(args.input_file) if args.input_file else make_inputs(json.loads(args.inputs))
    try:
        result = benchmark(
            args.model, feeds, args.threads, args.runs, args.warmup, args.emulated, args.save_outputs
        )
    except MissingRuntime as missing:
        print(f"agent: {missing} is not installed here (pip install {missing})", file=sys.stderr)
        return MISSING_RUNTIME_EXIT
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
