"""Stand-ins for JetPack's `trtexec` and `nvidia-smi`, for tests on machines without an NVIDIA GPU.

TensorRT cannot exist without an NVIDIA GPU (and CI has none), so the tests of the agent's trtexec path put
these on PATH instead. The fake `trtexec` "builds" an engine by wrapping the ONNX file it is given, and
"runs" one with ONNX Runtime on the CPU; it prints what trtexec 10.3 prints (banner, version line, error
lines, performance summary) and writes --exportTimes / --exportOutput files in trtexec's formats. It
checks the plumbing around trtexec (command lines, files, parsing, sha256, parity on the device), never
TensorRT itself: that needs `pytest -m gpu` on a machine with one.

Environment knobs (set in the device's Python command line, as SSH passes no environment):
FAKE_TRTEXEC_LOG (append each call's arguments as a JSON line), FAKE_TRTEXEC_FAIL (the build fails the
way trtexec does), FAKE_TRTEXEC_SKEW (added to every output value: an engine that disagrees).
"""

from __future__ import annotations

import sys
from pathlib import Path

MAGIC = b"EDGESHIP-FAKE-TRT-ENGINE\n"
GPU_NAME = "Orin (fake nvidia-smi)"
NVIDIA_SMI = f'#!/bin/sh\necho "{GPU_NAME}, 8.7, 540.4.0, 7620"\n'
TRTEXEC = """
import json, os, sys, time
import numpy as np

MAGIC = %(magic)r
BANNER = "[TensorRT v100300]"
STAMP = "[08/14/2024-10:22:31]"
args, flags = {}, []
for arg in sys.argv[1:]:
    if arg.startswith("--") and "=" in arg:
        key, value = arg[2:].split("=", 1)
        args[key] = value
    else:
        flags.append(arg.lstrip("-"))
if os.environ.get("FAKE_TRTEXEC_LOG"):
    with open(os.environ["FAKE_TRTEXEC_LOG"], "a") as log:
        log.write(json.dumps(sys.argv[1:]) + "\\n")
print(f"&&&& RUNNING TensorRT.trtexec {BANNER} # trtexec " + " ".join(sys.argv[1:]))


def finish(passed):
    print(f"&&&& {'PASSED' if passed else 'FAILED'} TensorRT.trtexec {BANNER} # trtexec")
    sys.exit(0 if passed else 1)


def error(line):
    print(f"{STAMP} [E] {line}")


if "help" in flags:
    print("=== Model Options ===")
    finish(True)
print(f"{STAMP} [I] TensorRT version: 10.3.0")
if "onnx" in args:
    if os.environ.get("FAKE_TRTEXEC_FAIL"):
        error("Error[4]: [network.cpp::validate::2789] Error Code 4: Internal Error (input_ids: dynamic "
              "input is missing dimensions in profile 0.)")
        for line in ("Engine could not be created from network", "Building engine failed",
                     "Failed to create engine from model or file.", "Engine set up failed"):
            error(line)
        finish(False)
    with open(args["onnx"], "rb") as graph, open(args["saveEngine"], "wb") as engine:
        engine.write(MAGIC + graph.read())
    with open(args["timingCacheFile"], "ab") as cache:
        cache.write(b"fake timing cache\\n")
    print(f"{STAMP} [I] Engine built in 0.4 sec.")
    finish(True)

import onnxruntime as ort

with open(args["loadEngine"], "rb") as engine:
    data = engine.read()
if not data.startswith(MAGIC):
    error("Error[1]: [runtime.cpp::parsePlan::314] Error Code 1: Serialization (the plan is not an engine)")
    finish(False)
session = ort.InferenceSession(data[len(MAGIC):], providers=["CPUExecutionProvider"])
shapes = dict(item.split(":") for item in args["shapes"].split(","))
files = dict(item.split(":", 1) for item in args["loadInputs"].split(",")) if "loadInputs" in args else {}
feeds = {}
for spec in session.get_inputs():
    shape = [int(d) for d in shapes[spec.name].split("x")]
    dtype = np.dtype(np.int64 if spec.type == "tensor(int64)" else np.float32)
    if spec.name not in files:
        feeds[spec.name] = np.ones(shape, dtype)
        continue
    raw = np.fromfile(files[spec.name], dtype=np.uint8)
    if raw.size != int(np.prod(shape)) * dtype.itemsize:
        error(f"Unexpected file size for input file: {files[spec.name]}. Note: Input binding size is: "
              f"{int(np.prod(shape)) * dtype.itemsize} bytes but the file size is {raw.size} bytes.")
        finish(False)
    feeds[spec.name] = raw.view(dtype).reshape(shape)
records = []
for _ in range(int(args.get("iterations", 10))):
    started = time.perf_counter() * 1000
    outputs = session.run(None, feeds)
    ended = time.perf_counter() * 1000
    records.append({"startComputeMs": started, "endComputeMs": ended, "latencyMs": ended - started})
skew = float(os.environ.get("FAKE_TRTEXEC_SKEW", "0"))
if "exportTimes" in args:
    with open(args["exportTimes"], "w") as handle:
        json.dump(records, handle)
if "exportOutput" in args:
    with open(args["exportOutput"], "w") as handle:
        handle.write("[\\n")
        for index, (meta, array) in enumerate(zip(session.get_outputs(), outputs)):
            values = ", ".join(format(float(v) + skew, ".6g") for v in np.ravel(array))
            handle.write(("  " if index == 0 else ", ") + '{ "name" : "%%s"\\n' %% meta.name)
            handle.write('  , "dimensions" : "%%s"\\n' %% "x".join(str(d) for d in array.shape))
            handle.write("  , \\"values\\" : [ %%s ]\\n  }\\n" %% values)
        handle.write("]\\n")
times = sorted(r["endComputeMs"] - r["startComputeMs"] for r in records)
mean = sum(times) / len(times)
print(f"{STAMP} [I] === Performance summary ===")
print(f"{STAMP} [I] Throughput: {1000 / mean:.1f} qps")
print(f"{STAMP} [I] GPU Compute Time: min = {times[0]:.4f} ms, max = {times[-1]:.4f} ms, mean = {mean:.4f} ms, "
      f"median = {times[len(times) // 2]:.4f} ms, percentile(90%%) = {times[-1]:.4f} ms")
finish(True)
"""


def install_fake_gpu(folder: Path, *, trtexec: bool = True) -> Path:
    """A bin folder with the fake `nvidia-smi` (an Orin, compute capability 8.7) and, with `trtexec`, the
    fake `trtexec` (run by this interpreter, which has numpy and onnxruntime); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    scripts = {"nvidia-smi": NVIDIA_SMI}
    if trtexec:
        scripts["trtexec"] = f"#!{sys.executable}\n" + TRTEXEC % {"magic": MAGIC}
    for name, text in scripts.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return folder
