"""edgeship benchmark agent: time one artifact on this machine and print one JSON object.

Standalone by design: it imports only the standard library, numpy and the one runtime it drives, so it
can be copied to a device as a single file and run with `python3 agent.py bench --format onnx --model FILE
--inputs JSON` (or `--input-file FEEDS.npz` for real inputs); `python3 agent.py probe` describes the device
instead, and `python3 agent.py build-engine ONNX --engine-out FILE ...` builds a TensorRT engine on its GPU.
The host's sessions open artifacts with the same openers (`open_onnxruntime`, `open_litert`).
Works on Python 3.9+. Exit status 3 means the runtime the artifact needs is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

AGENT_FORMATS = {"onnx": "onnxruntime", "ort": "onnxruntime", "tflite": "litert", "tensorrt": "tensorrt"}
"""Artifact format -> the runtime that benchmarks it here (the `runtime` of the JSON result); the host's
format descriptors (edgeship.runtimes.formats) read this table."""
RUNTIME_MODULES = {
    "onnxruntime": "onnxruntime",
    "ai-edge-litert": "ai_edge_litert",
    "tflite-runtime": "tflite_runtime",
    "tensorrt": "tensorrt",
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


@dataclass
class Runner:
    """An opened artifact: `run(feeds)` returns its outputs in the artifact's order."""

    run: Callable[[dict], list]
    package: str
    """The runtime package that opened it, as `probe` names it (onnxruntime, ai-edge-litert, tflite-runtime)."""
    version: str
    inputs: dict
    """Input name -> the runtime's description of it (a LiteRT detail dict, an onnxruntime NodeArg)."""
    outputs: dict
    fixed_batch: int | None
    """The only batch size the artifact accepts, or None when the batch axis is dynamic."""

    def version_label(self) -> str:
        """The version as benchmark results report it: the legacy tflite-runtime names itself."""
        return f"tflite_runtime {self.version}" if self.package == "tflite-runtime" else self.version


def open_onnxruntime(model: str, threads: int | None, providers: list | None = None) -> Runner:
    """An onnxruntime session on the CPU (or `providers`), `threads` intra-op threads (None: its default)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingRuntime("onnxruntime") from exc

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: the exception carries them
    session = ort.InferenceSession(model, options, providers=providers or ["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    batch_dims = {i.shape[0] if i.shape else None for i in inputs.values()}
    only = batch_dims.pop() if len(batch_dims) == 1 else None
    return Runner(
        run=lambda feeds: session.run(None, {name: feeds[name] for name in inputs}),
        package="onnxruntime",
        version=ort.__version__,
        inputs=inputs,
        outputs={o.name: o for o in session.get_outputs()},
        fixed_batch=only if isinstance(only, int) else None,
    )


def litert_interpreter():
    """The LiteRT Interpreter class and its package: ai-edge-litert, else the legacy tflite-runtime."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite-runtime"
    except ImportError as exc:
        raise MissingRuntime("ai-edge-litert") from exc


def open_litert(model: str, threads: int | None) -> Runner:
    """A LiteRT interpreter (XNNPACK on the CPU) driven through the model's default signature.

    Feeds are cast to the model's input types (int64 token ids -> int32; float -> int8/uint8 with the
    input's scale and zero point for full-integer models); quantized outputs come back as float32, so
    callers feed and compare exactly as they do for ONNX.
    """
    interpreter_class, package = litert_interpreter()
    interp = interpreter_class(model_path=model, num_threads=threads or None)
    interp.allocate_tensors()
    if interp.get_signature_list():
        runner = interp.get_signature_runner()
        inputs, outputs = runner.get_input_details(), runner.get_output_details()

        def run(feeds):
            results = runner(**{name: litert_input(feeds[name], d) for name, d in inputs.items()})
            return [litert_output(results[name], d) for name, d in outputs.items()]

    else:  # a file written without a signature (older converters): tensors by name, in graph order
        inputs = {d["name"]: d for d in interp.get_input_details()}
        outputs = {d["name"]: d for d in interp.get_output_details()}

        def run(feeds):
            for name, detail in inputs.items():
                interp.set_tensor(detail["index"], litert_input(feeds[name], detail))
            interp.invoke()
            return [litert_output(interp.get_tensor(d["index"]), d) for d in outputs.values()]

    batch_dims = {int(d["shape"][0]) for d in inputs.values()}
    dynamic = any(int(d["shape_signature"][0]) < 0 for d in inputs.values())
    return Runner(
        run=run,
        package=package,
        version=_package_version(package),
        inputs=inputs,
        outputs=outputs,
        fixed_batch=None if dynamic or len(batch_dims) != 1 else batch_dims.pop(),
    )


OPENERS = {"onnxruntime": open_onnxruntime, "litert": open_litert}
"""The CPU runtimes of AGENT_FORMATS by name (TensorRT engines go through `benchmark_tensorrt`)."""


def litert_input(array, detail: dict):
    """Cast (or quantize, for integer inputs with a scale) one feed to the model's input dtype."""
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if dtype.kind in "iu" and scale and array.dtype.kind == "f":
        info = np.iinfo(dtype)
        return np.clip(np.round(array / scale + zero_point), info.min, info.max).astype(dtype)
    return np.ascontiguousarray(array, dtype=dtype)


def litert_output(array, detail: dict):
    """Dequantize an integer output that has a scale; other outputs pass through."""
    scale, zero_point = detail["quantization"]
    if np.dtype(detail["dtype"]).kind in "iu" and scale:
        return ((array.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return array


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
            imported = importlib.import_module(module)
        except Exception:  # a broken install (wrong numpy, missing library) counts as absent
            continue
        version = _package_version(package)
        if version == "unknown":  # e.g. JetPack's apt-installed tensorrt bindings carry no pip metadata
            version = str(getattr(imported, "__version__", version))
        found[package] = version
    return found


def probe(workdir: str) -> dict:
    """What this machine is: CPU, Python, runtimes that import, free disk under `workdir`."""
    usage = shutil.disk_usage(workdir if os.path.isdir(workdir) else os.path.expanduser("~"))
    return {
        "cpu": cpu_info(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "runtimes": runtime_versions(),
        "gpu": gpu_info(),
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
    artifact_format: str,
    feeds: dict,
    threads: int,
    runs: int,
    warmup: int,
    emulated: bool = False,
    outputs_file: str | None = None,
) -> dict:
    """Load `model` (an artifact of `artifact_format`), run warm-up then timed inferences on `feeds`, and
    describe the result."""
    runtime = AGENT_FORMATS.get(artifact_format)
    if runtime is None:
        raise SystemExit(f"agent: unknown format '{artifact_format}' (known: {', '.join(AGENT_FORMATS)})")
    if runtime == "tensorrt":
        return benchmark_tensorrt(model, feeds, threads, runs, warmup, emulated, outputs_file)
    started = time.perf_counter()
    runner = OPENERS[runtime](model, threads)
    run = runner.run
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
        "runtime_version": runner.version_label(),
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


# --- TensorRT mode: the Python API with torch CUDA buffers, or JetPack's trtexec where those are absent ---
TRTEXEC_CANDIDATES = ("trtexec", "/usr/src/tensorrt/bin/trtexec")
JETSON_COMPUTE = {"Orin": "8.7", "Xavier": "7.2", "TX2": "6.2", "Nano": "5.3"}
TRTEXEC_STAT = re.compile(r"(min|max|mean|median|percentile\((\d+)%\)) = ([0-9.eE+-]+) ms")


def parse_nvidia_smi(text: str) -> dict:
    """The first GPU of `nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total
    --format=csv,noheader,nounits` output."""
    name, capability, driver, memory = [field.strip() for field in text.strip().splitlines()[0].split(",")]
    return {"name": name, "compute_capability": capability, "driver": driver, "memory_mb": float(memory)}


def gpu_info() -> dict | None:
    """This machine's NVIDIA GPU (nvidia-smi, else the Jetson model) and trtexec; None without one."""
    trtexec = next((shutil.which(c) for c in TRTEXEC_CANDIDATES if shutil.which(c)), None)
    smi = shutil.which("nvidia-smi")
    if smi:
        query = ["--query-gpu=name,compute_cap,driver_version,memory.total", "--format=csv,noheader,nounits"]
        try:
            done = subprocess.run([smi, *query], capture_output=True, text=True, timeout=30, check=True)
            return {**parse_nvidia_smi(done.stdout), "trtexec": trtexec}
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            pass
    try:
        with open("/proc/device-tree/model", encoding="utf-8", errors="replace") as handle:
            board = handle.read().strip("\x00\n ")
    except OSError:
        return None
    if "Jetson" not in board:
        return None
    capability = next((cc for key, cc in JETSON_COMPUTE.items() if key in board), None)
    return {
        "name": board,
        "compute_capability": capability,
        "driver": None,
        "memory_mb": None,
        "trtexec": trtexec,
    }


def parse_trtexec_summary(text: str) -> dict:
    """trtexec's performance summary: {"Latency": {"min", "max", "mean", "median", "p90", ...}, ...,
    "throughput_qps"} from lines like `[I] GPU Compute Time: min = 0.7 ms, ..., percentile(99%) = 0.9 ms`."""
    summary: dict = {}
    for line in text.splitlines():
        body = re.sub(r"^(\[[^\]]*\]\s*)+", "", line.strip())
        if body.startswith("Throughput:"):
            summary["throughput_qps"] = float(body.split(":", 1)[1].split()[0])
            continue
        label, _, stats = body.partition(":")
        found = {(f"p{pct}" if pct else key): float(value) for key, pct, value in TRTEXEC_STAT.findall(stats)}
        if "mean" in found and "median" in found:
            summary[label.strip()] = found
    return summary


def trtexec_compute_times(records: list) -> list:
    """Per-inference GPU compute milliseconds from trtexec's --exportTimes JSON."""
    return [
        float(r["computeMs"]) if "computeMs" in r else float(r["endComputeMs"]) - float(r["startComputeMs"])
        for r in records
    ]


def benchmark_tensorrt(
    model: str, feeds: dict, threads: int, runs: int, warmup: int, emulated: bool, outputs_file: str | None
) -> dict:
    """Time an engine on the GPU: CUDA events through the Python API, else trtexec's own timings."""
    try:
        import tensorrt as trt
        import torch

        python_api = bool(torch.cuda.is_available())
    except ImportError:
        python_api = False
    gpu = gpu_info()
    if python_api:
        timing = _tensorrt_python(trt, torch, model, feeds, runs, warmup, outputs_file)
    elif gpu and gpu["trtexec"]:
        timing = _tensorrt_trtexec(gpu["trtexec"], model, feeds, runs, warmup, outputs_file)
    else:
        raise MissingRuntime("tensorrt")
    return {
        "model": os.path.basename(model),
        "runtime": "tensorrt",
        "threads": threads,
        "runs": runs,
        "warmup": warmup,
        "input_shapes": {name: list(array.shape) for name, array in feeds.items()},
        **timing,
        "gpu": gpu,
        "cpu": cpu_info(),
        "python": platform.python_version(),
        "emulated": emulated,
    }


def _tensorrt_python(trt, torch, model: str, feeds: dict, runs: int, warmup: int, outputs_file) -> dict:
    started = time.perf_counter()
    runtime = trt.Runtime(trt.Logger(trt.Logger.ERROR))
    with open(model, "rb") as handle:
        engine = runtime.deserialize_cuda_engine(handle.read())
    if engine is None:
        raise SystemExit(
            f"agent: TensorRT {trt.__version__} on {torch.cuda.get_device_name()} cannot load "
            f"{os.path.basename(model)}: built for another GPU or TensorRT version (rebuild it on this device)"
        )
    context = engine.create_execution_context()
    stream = torch.cuda.Stream()
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    buffers = {}
    for name in inputs:
        array = np.ascontiguousarray(feeds[name], dtype=trt.nptype(engine.get_tensor_dtype(name)))
        buffers[name] = torch.from_numpy(array).cuda()
        context.set_input_shape(name, tuple(array.shape))
    for name in names:
        if name not in buffers:
            dtype = torch.from_numpy(np.empty(0, trt.nptype(engine.get_tensor_dtype(name)))).dtype
            shape = tuple(context.get_tensor_shape(name))
            buffers[name] = torch.empty(shape, dtype=dtype, device="cuda")
        context.set_tensor_address(name, buffers[name].data_ptr())
    load_ms = (time.perf_counter() - started) * 1000
    outputs = [n for n in names if n not in inputs]
    context.execute_async_v3(stream.cuda_stream)
    stream.synchronize()
    if outputs_file:
        np.savez(outputs_file, *[buffers[n].cpu().numpy() for n in outputs])
    for _ in range(warmup):
        context.execute_async_v3(stream.cuda_stream)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    timings = []
    for _ in range(runs):
        start.record(stream)
        context.execute_async_v3(stream.cuda_stream)
        end.record(stream)
        end.synchronize()
        timings.append(start.elapsed_time(end))
    free, total = torch.cuda.mem_get_info()
    activations = getattr(engine, "device_memory_size_v2", None) or engine.device_memory_size
    return {
        "runtime_version": trt.__version__,
        "timing": "cuda-events (GPU time per inference, inputs resident on the GPU)",
        "latency_ms": latency_stats(timings),
        "load_ms": load_ms,
        "gpu_memory_mb": {
            "used": (total - free) / (1 << 20),
            "total": total / (1 << 20),
            "engine_activations": activations / (1 << 20),
        },
    }


def _tensorrt_trtexec(
    trtexec: str, model: str, feeds: dict, runs: int, warmup: int, outputs_file: str | None = None
) -> dict:
    """Time with trtexec. It fills the inputs with its own random values (engine timing does not depend on
    them), except with `outputs_file`: then the feeds go in through --loadInputs and the outputs of the
    last run come back through --exportOutput."""
    import tempfile

    shapes = ",".join(f"{name}:{shape_text(array.shape)}" for name, array in feeds.items())
    with tempfile.TemporaryDirectory() as scratch:
        times_file = os.path.join(scratch, "times.json")
        command = [trtexec, f"--loadEngine={model}", f"--shapes={shapes}", f"--iterations={warmup + runs}"]
        command += ["--warmUp=0", "--duration=0", "--avgRuns=1", f"--exportTimes={times_file}"]
        started = time.perf_counter()
        if outputs_file:
            done = _trtexec_with_inputs(trtexec, command, feeds, scratch, outputs_file)
        else:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"agent: trtexec failed on {os.path.basename(model)}: {trtexec_error(done)}")
        with open(times_file, encoding="utf-8") as handle:
            timings = trtexec_compute_times(json.load(handle))[warmup:]
    return {
        "runtime_version": f"trtexec {trtexec_version(done.stdout) or 'unknown'}",
        "timing": "trtexec GPU compute time per inference",
        "latency_ms": latency_stats(timings),
        "load_ms": (time.perf_counter() - started) * 1000,
        "trtexec_summary": parse_trtexec_summary(done.stdout),
    }


def _trtexec_with_inputs(trtexec: str, command: list, feeds: dict, scratch: str, outputs_file: str):
    """Run `command` on the feeds written as raw files, saving the outputs it exports to `outputs_file`.

    Integer inputs are int64 in TensorRT 10 engines and int32 before (the ONNX parser narrowed them);
    when trtexec refuses the file size, the other width is tried."""
    major = int((trtexec_version(_run_text([trtexec, "--help"])) or "10").split(".")[0])
    widths = [np.int64, np.int32] if major >= 10 else [np.int32, np.int64]
    exported = os.path.join(scratch, "outputs.json")
    for width in widths:
        files = []
        for index, (name, array) in enumerate(feeds.items()):
            dtype = (
                np.float32 if array.dtype.kind == "f" else width if array.dtype.kind in "iu" else array.dtype
            )
            path = os.path.join(scratch, f"input{index}.bin")
            np.ascontiguousarray(array, dtype=dtype).tofile(path)
            files.append(f"{name}:{path}")
        full = [*command, f"--loadInputs={','.join(files)}", f"--exportOutput={exported}"]
        done = subprocess.run(full, capture_output=True, text=True, check=False)
        if done.returncode == 0 or "Unexpected file size" not in done.stdout + done.stderr:
            break
    if done.returncode == 0:
        with open(exported, encoding="utf-8") as handle:
            np.savez(outputs_file, *parse_trtexec_outputs(handle.read()))
    return done


def parse_trtexec_outputs(text: str) -> list:
    """The arrays in trtexec's --exportOutput JSON (`[{"name", "dimensions": "1x3", "values": [...]}]`), in
    file order. trtexec prints values with 6 significant digits, and nan / inf bare."""
    text = re.sub(r"(?<=[\s,\[])-?nan(?=[\s,\]])", "NaN", text, flags=re.IGNORECASE)
    text = re.sub(r"(?<=[\s,\[-])inf(?=[\s,\]])", "Infinity", text, flags=re.IGNORECASE)
    arrays = []
    for output in json.loads(text):
        dimensions = str(output.get("dimensions", "")).strip()
        shape = tuple(int(d) for d in dimensions.split("x")) if dimensions else ()
        arrays.append(np.asarray(output["values"], dtype=np.float32).reshape(shape))
    return arrays


# --- Engine build mode: ONNX -> engine on this GPU, with the tensorrt Python API or JetPack's trtexec ---
BUILDER_FLAGS = {
    "fp32": (),
    "fp16": ("FP16",),
    "int8": ("INT8", "FP16"),  # explicit Q/DQ layers run int8; the layers left float may use fp16
    "int4": ("FP16",),  # int4 weight-only: DequantizeLinear blocks feed fp16 GEMMs
}
"""TensorRT builder flags per precision (edgeship.export.tensorrt_config reads this table too)."""
TRTEXEC_BANNER = re.compile(r"\[TensorRT v(\d+)\]")
TRTEXEC_VERSION_LINE = re.compile(r"TensorRT version: (\d+\.\d+\.\d+)")
TRTEXEC_BUILD_TIME = re.compile(r"Engine built in ([0-9.]+) sec")
TRTEXEC_ERROR = re.compile(r"ERROR:|Error Code|Error\[\d+\]")


class GraphRefused(Exception):
    """TensorRT's ONNX parser cannot read the graph."""


class BuildFailed(Exception):
    """TensorRT parsed the graph but could not build an engine from it."""


def shape_text(shape) -> str:
    """A shape as trtexec writes it: 1x128."""
    return "x".join(str(int(d)) for d in shape)


def network_flags(trt) -> int:
    """Explicit batch: the only mode in TensorRT 10, a flag before it (JetPack 5 ships TensorRT 8.5)."""
    if int(trt.__version__.split(".")[0]) >= 10:
        return 0
    return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)


def tensorrt_build(trt, onnx: str, precision: str, profile: dict, workspace_mb: int, cache: bytes):
    """Parse `onnx` and build a serialized engine with the tensorrt Python API: explicit batch, the
    precision's builder flags, one optimization profile ({input: {"min", "opt", "max"}}), the workspace
    limit and a timing cache. Returns (engine bytes, updated timing cache bytes, network layer count)."""
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(network_flags(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(onnx):
        first = parser.get_error(0).desc() if parser.num_errors else "no detail"
        raise GraphRefused(f"TensorRT's ONNX parser refused the graph: {first}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    for flag in BUILDER_FLAGS[precision]:
        config.set_flag(getattr(trt.BuilderFlag, flag))
    shapes = builder.create_optimization_profile()
    for name, bounds in profile.items():
        shapes.set_shape(name, tuple(bounds["min"]), tuple(bounds["opt"]), tuple(bounds["max"]))
    config.add_optimization_profile(shapes)
    config.set_timing_cache(config.create_timing_cache(cache), ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BuildFailed(f"TensorRT could not build a {precision} engine")
    return bytes(serialized), bytes(config.get_timing_cache().serialize()), int(network.num_layers)


def trtexec_build_command(
    trtexec: str, onnx: str, engine: str, precision: str, profile: dict, workspace_mb: int, timing_cache: str
) -> list:
    """trtexec's command line for the same build as `tensorrt_build`: precision flags, the profile as
    --minShapes / --optShapes / --maxShapes, the workspace pool in MiB and the timing cache file."""
    command = [trtexec, f"--onnx={onnx}", f"--saveEngine={engine}"]
    command += [f"--{flag.lower()}" for flag in BUILDER_FLAGS[precision]]
    for bound in ("min", "opt", "max"):
        shapes = ",".join(f"{name}:{shape_text(bounds[bound])}" for name, bounds in profile.items())
        if shapes:
            command.append(f"--{bound}Shapes={shapes}")
    command += [f"--memPoolSize=workspace:{int(workspace_mb)}", f"--timingCacheFile={timing_cache}"]
    return command


def trtexec_version(text: str) -> str | None:
    """The TensorRT version in trtexec's output: its `TensorRT version: 10.3.0` line, else the
    `[TensorRT v100300]` banner (major * 10000 + minor * 100 + patch from 10 on, * 1000 + * 100 before)."""
    line = TRTEXEC_VERSION_LINE.search(text)
    if line:
        return line.group(1)
    banner = TRTEXEC_BANNER.search(text)
    if banner is None:
        return None
    number = int(banner.group(1))
    major, rest = divmod(number, 10000) if number >= 100000 else divmod(number, 1000)
    return f"{major}.{rest // 100}.{rest % 100}"


def parse_trtexec_build(text: str) -> dict:
    """What a trtexec build printed: TensorRT version, seconds the engine took, and the error that
    explains a failure (the first TensorRT error line; trtexec's last lines only say that it failed)."""
    built = TRTEXEC_BUILD_TIME.search(text)
    lines = [re.sub(r"^(\[[^\]]*\]\s*)+", "", line.strip()) for line in text.splitlines() if line.strip()]
    errors = [line for line in text.splitlines() if "[E]" in line]
    cause = next((line for line in errors if TRTEXEC_ERROR.search(line)), errors[-1] if errors else None)
    if cause is not None:
        cause = re.sub(r"^(\[[^\]]*\]\s*)+", "", cause.strip())
    return {
        "tensorrt": trtexec_version(text),
        "engine_build_s": float(built.group(1)) if built else None,
        "error": cause or (lines[-1] if lines else None),
    }


def trtexec_error(done) -> str:
    """The line of a failed trtexec run that says why."""
    return parse_trtexec_build(done.stdout + "\n" + done.stderr)["error"] or f"exit status {done.returncode}"


def _run_text(command: list) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout + done.stderr


def default_timing_cache(compute_capability: str, tensorrt: str) -> str:
    """A per-GPU, per-TensorRT timing cache under the user's cache folder (re-used by later builds)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    name = f"sm{compute_capability.replace('.', '')}-trt{tensorrt}.timing"
    return os.path.join(root, "edgeship", "tensorrt", name)


def _write_atomic(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = f"{path}.{os.getpid()}.partial"
    with open(partial, "wb") as handle:
        handle.write(data)
    os.replace(partial, path)


def build_engine(
    onnx: str, engine: str, precision: str, profile: dict, workspace_mb: int, timing_cache: str | None
) -> dict:
    """Build `onnx` into `engine` for this machine's GPU (the tensorrt Python API when it imports, else
    trtexec) and describe it: size, sha256, TensorRT version, GPU and compute capability."""
    import hashlib

    if precision not in BUILDER_FLAGS:
        raise SystemExit(f"agent: unknown precision '{precision}' (known: {', '.join(BUILDER_FLAGS)})")
    if not os.path.isfile(onnx):
        raise SystemExit(f"agent: no ONNX file at {onnx}")
    gpu = gpu_info()
    if gpu is None:
        raise SystemExit("agent: this machine has no NVIDIA GPU (no nvidia-smi, not a Jetson)")
    try:
        import tensorrt as trt
    except Exception:  # absent, or its CUDA libraries fail to load: trtexec may still work
        trt = None
    if trt is None and not gpu["trtexec"]:
        raise MissingRuntime("tensorrt")
    version = (
        runtime_versions().get("tensorrt")
        if trt is not None
        else trtexec_version(_run_text([gpu["trtexec"], "--help"]))
    )
    version = version or "unknown"
    cache = timing_cache or default_timing_cache(gpu["compute_capability"] or "unknown", version)
    started = time.perf_counter()
    partial = f"{engine}.partial"
    command = None
    if trt is not None:
        cache_bytes = b""
        if os.path.isfile(cache):
            with open(cache, "rb") as handle:
                cache_bytes = handle.read()
        try:
            serialized, cache_bytes, layers = tensorrt_build(
                trt, onnx, precision, profile, workspace_mb, cache_bytes
            )
        except (GraphRefused, BuildFailed) as exc:
            raise SystemExit(f"agent: {exc}") from exc
        _write_atomic(cache, cache_bytes)
        _write_atomic(engine, serialized)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(cache)), exist_ok=True)
        os.makedirs(os.path.dirname(os.path.abspath(engine)), exist_ok=True)
        command = trtexec_build_command(
            gpu["trtexec"], onnx, partial, precision, profile, workspace_mb, cache
        )
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not os.path.isfile(partial):
            if os.path.exists(partial):
                os.remove(partial)
            raise SystemExit(f"agent: trtexec could not build the engine: {trtexec_error(done)}")
        version = trtexec_version(done.stdout) or version
        os.replace(partial, engine)
        layers = None
    digest = hashlib.sha256()
    with open(engine, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {
        "engine": engine,
        "bytes": os.path.getsize(engine),
        "sha256": digest.hexdigest(),
        "tensorrt": version,
        "builder": "tensorrt-python" if trt is not None else "trtexec",
        "command": command,
        "precision": precision,
        "profile": profile,
        "workspace_mb": workspace_mb,
        "timing_cache": cache,
        "layers": layers,
        "build_s": time.perf_counter() - started,
        "gpu": gpu,
        "python": platform.python_version(),
    }


QUANTIZATION_KEY = "__quantization__"
"""The .npz entry of `capture_tensors`' file holding each integer tensor's scale and zero point (JSON)."""


def capture_tensors(model: str, artifact_format: str, feeds: dict, names: list | None = None):
    """Every row of `feeds` run alone; returns (tensors, quantization): each kept tensor stacked over the
    rows as float32 (integer tensors dequantized), and {name: [scale, zero_point, dtype]} of the quantized
    ones. ONNX keeps the graph's outputs (expose intermediates as outputs first); TFLite keeps every op's
    outputs (the interpreter preserves all tensors), or only `names`."""
    rows = len(next(iter(feeds.values())))
    single = [{name: array[row : row + 1] for name, array in feeds.items()} for row in range(rows)]
    if AGENT_FORMATS[artifact_format] == "onnxruntime":
        runner = open_onnxruntime(model, threads=None)
        runs = [dict(zip(runner.outputs, runner.run(feed))) for feed in single]  # noqa: B905 (Python 3.9)
        quantization = {}
    else:
        runs, quantization = _litert_tensors(model, single, set(names) if names else None)
    shape = {name: np.shape(output) for name, output in runs[0].items()}
    kept = [name for name in runs[0] if shape[name] and all(np.shape(r[name]) == shape[name] for r in runs)]
    tensors = {name: np.concatenate([run[name] for run in runs]).astype(np.float32) for name in kept}
    return tensors, quantization


def _litert_tensors(model: str, feeds: list, names):
    """The op outputs of a LiteRT model per feed (dequantized) and the quantization of integer ones.

    LiteRT's builtin kernels run every op (XNNPACK would fuse ops and leave their tensors unwritten)."""
    import warnings

    interpreter_class, package = litert_interpreter()
    module = sys.modules[interpreter_class.__module__]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "preserve_all_tensors is for debugging": it is
        interp = interpreter_class(
            model_path=model,
            experimental_preserve_all_tensors=True,
            experimental_op_resolver_type=module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
    interp.allocate_tensors()
    details = {d["index"]: d for d in interp.get_tensor_details()}
    signatures = interp._get_full_signature_list()
    if signatures:
        inputs = {name: details[i] for name, i in next(iter(signatures.values()))["inputs"].items()}
    else:
        inputs = {d["name"]: d for d in interp.get_input_details()}
    produced = [index for op in interp._get_ops_details() for index in op["outputs"] if index >= 0]
    kept = [i for i in produced if names is None or details[i]["name"] in names]
    runs = []
    for feed in feeds:
        for name, detail in inputs.items():
            interp.set_tensor(detail["index"], litert_input(feed[name], detail))
        interp.invoke()
        run = {}
        for index in kept:
            detail = details[index]
            if np.dtype(detail["dtype"]).kind in "fiu":
                run[detail["name"]] = litert_output(interp.get_tensor(index), detail).astype(np.float32)
        runs.append(run)
    quantization = {
        details[i]["name"]: [
            float(details[i]["quantization"][0]),
            int(details[i]["quantization"][1]),
            np.dtype(details[i]["dtype"]).name,
        ]
        for i in kept
        if np.dtype(details[i]["dtype"]).kind in "iu" and details[i]["quantization"][0]
    }
    return runs, quantization


def _read_json(path: str | None):
    """The JSON document in `path`, or None without one."""
    if path is None:
        return None
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def save_tensors(path: str, tensors: dict, quantization: dict) -> None:
    """Write `capture_tensors`' result to one .npz (names kept; the quantization as a JSON entry)."""
    arrays = {**tensors, QUANTIZATION_KEY: np.array(json.dumps(quantization))}
    np.savez(path, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as the allow_pickle flag


def parser() -> argparse.ArgumentParser:
    """The command line: `probe`, `bench` and `build-engine` subcommands."""
    root = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    probe_command = commands.add_parser("probe", help="describe this machine: CPU, Python, runtimes, GPU")
    probe_command.add_argument("--workdir", default=".", help="where free disk is measured")
    bench = commands.add_parser("bench", help="time one artifact and print the result as JSON")
    bench.add_argument("--format", required=True, choices=list(AGENT_FORMATS), help="the artifact's format")
    bench.add_argument("--model", required=True, help="artifact file (.onnx, .ort, .tflite, .engine)")
    feeds = bench.add_mutually_exclusive_group(required=True)
    feeds.add_argument("--inputs", help="JSON list of {name, dtype, shape, low, high}: random inputs")
    feeds.add_argument("--input-file", help=".npz of real inputs, one array per input name")
    bench.add_argument("--save-outputs", help="write the outputs of the first run to this .npz")
    bench.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    bench.add_argument("--runs", type=int, default=50)
    bench.add_argument("--warmup", type=int, default=5)
    bench.add_argument("--emulated", action="store_true", help="mark results as emulation timings")
    tensors = commands.add_parser("tensors", help="save every intermediate tensor of a run on real inputs")
    tensors.add_argument("--format", required=True, choices=list(AGENT_FORMATS), help="the artifact's format")
    tensors.add_argument(
        "--model", required=True, help="artifact file (.onnx with intermediates as outputs, .tflite)"
    )
    tensors.add_argument("--input-file", required=True, help=".npz of real inputs, one array per input name")
    tensors.add_argument("--names-file", help="JSON file: a list of the tensor names to keep (default: all)")
    tensors.add_argument("--out", required=True, help="the .npz to write")
    build = commands.add_parser("build-engine", help="build an ONNX graph into a TensorRT engine on this GPU")
    build.add_argument("onnx", metavar="ONNX", help="the ONNX graph to build")
    build.add_argument(
        "--engine-out", required=True, help="where the engine goes (written under a temporary name first)"
    )
    build.add_argument("--precision", default="fp32", help="fp32, fp16, int8 or int4 (Q/DQ graphs)")
    build.add_argument(
        "--profile", default="{}", help='JSON {input: {"min": [..], "opt": [..], "max": [..]}}'
    )
    build.add_argument("--workspace-mb", type=int, default=2048, help="builder workspace limit in MiB")
    build.add_argument("--timing-cache", help="timing cache file (default: one per GPU and TensorRT version)")
    return root


def main(argv: list | None = None) -> int:
    """Command line: print the probe, benchmark or engine build result as JSON on stdout."""
    args = parser().parse_args(argv)
    if args.command == "probe":
        print(json.dumps(probe(args.workdir)))
        return 0
    if args.command == "build-engine":
        try:
            report = build_engine(
                args.onnx,
                args.engine_out,
                args.precision,
                json.loads(args.profile),
                args.workspace_mb,
                args.timing_cache,
            )
        except MissingRuntime as missing:
            print(
                f"agent: {missing} is not installed here (neither the Python package nor trtexec)",
                file=sys.stderr,
            )
            return MISSING_RUNTIME_EXIT
        print(json.dumps(report))
        return 0
    if args.command == "tensors":
        try:
            captured = capture_tensors(
                args.model, args.format, load_feeds(args.input_file), _read_json(args.names_file)
            )
        except MissingRuntime as missing:
            print(f"agent: {missing} is not installed here (pip install {missing})", file=sys.stderr)
            return MISSING_RUNTIME_EXIT
        save_tensors(args.out, *captured)
        print(json.dumps({"tensors": len(captured[0]), "out": args.out}))
        return 0
    feeds = load_feeds(args.input_file) if args.input_file else make_inputs(json.loads(args.inputs))
    try:
        result = benchmark(
            args.model,
            args.format,
            feeds,
            args.threads,
            args.runs,
            args.warmup,
            args.emulated,
            args.save_outputs,
        )
    except MissingRuntime as missing:
        print(f"agent: {missing} is not installed here (pip install {missing})", file=sys.stderr)
        return MISSING_RUNTIME_EXIT
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
