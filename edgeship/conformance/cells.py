"""The matrix cells: export or quantize one subject with edgeship's own tools, run it, judge it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeship.compress.quantize.spec import QuantizationSpec
from edgeship.conformance.checks import (
    THREADS,
    CellFailure,
    Outcome,
    against_reference,
    attention_tensors,
    fp32_verdict,
    one_line,
    onnx_profile_shapes,
    quantized_verdict,
    run_session,
    stage,
)
from edgeship.conformance.subjects import Subject
from edgeship.runtimes.native_stderr import silenced_native_stderr

ONNX_FILE = "model.onnx"
TFLITE_FILE = "model.tflite"
CellRunner = Callable[[Subject, Path], Outcome]


def onnx_fp32(subject: Subject, workdir: Path) -> Outcome:
    """Export to ONNX (edgeship's exporter for classifiers), check parity and, for long inputs, attention."""
    from edgeship.export.registry import ExportOptions, get_exporter
    from edgeship.runtimes.base import open_session

    partial = workdir / "model.partial.onnx"
    with stage("export error"):
        if subject.loaded is not None:
            options = ExportOptions(max_length=subject.sequence_length)
            get_exporter("onnx").export(subject.loaded, partial, options)
        else:
            _export_onnx(subject, partial)
    partial.replace(workdir / ONNX_FILE)
    with stage("runtime"):
        outputs = run_session(open_session(workdir / ONNX_FILE, "onnx", THREADS), subject)
    outcome = fp32_verdict(against_reference(outputs, subject), subject.tolerance)
    if subject.attention_length:
        with stage("attention check"):
            shapes = onnx_profile_shapes(workdir / ONNX_FILE, subject, workdir)
        return _with_attention(outcome, attention_tensors(shapes, subject.attention_length), subject)
    return outcome


def _export_onnx(subject: Subject, destination: Path) -> None:
    """torch.onnx.export (TorchScript) of a subject edgeship's exporter does not take, as the exporter does."""
    import onnx
    import torch

    trace = subject.trace_inputs or {name: array[:2] for name, array in subject.inputs.items()}
    torch.onnx.export(
        subject.module,
        tuple(torch.from_numpy(trace[name]) for name in subject.input_names),
        str(destination),
        input_names=subject.input_names,
        output_names=subject.output_names,
        dynamic_axes=subject.dynamic_axes,
        opset_version=17,
        do_constant_folding=True,
        dynamo=False,
    )
    onnx.checker.check_model(str(destination))


def _with_attention(outcome: Outcome, kind: str, subject: Subject) -> Outcome:
    length = subject.attention_length
    if kind == "full":
        reason = (
            f"attention fell back to full: [heads, {length}, {length}] scores in the graph ({outcome.reason})"
        )
        return Outcome("fail", reason, outcome.metrics)
    return Outcome(
        outcome.status,
        f"{outcome.reason}; sparse attention kept (no [heads, {length}, {length}] scores)",
        outcome.metrics,
    )


def onnx_quantized(scheme: str) -> CellRunner:
    """A cell that quantizes the fp32 ONNX model with edgeship's ONNX backend, runs it and checks agreement."""

    def cell(subject: Subject, workdir: Path) -> Outcome:
        from edgeship.compress.quantize.registry import get_quantizer
        from edgeship.runtimes.base import open_session

        source = _fp32_artifact(workdir / ONNX_FILE, "ONNX")
        destination = workdir / f"model-{scheme}.onnx"
        with stage("quantizer"):
            result = get_quantizer("onnx", scheme).quantize(
                source, destination, QuantizationSpec(scheme=scheme), None
            )
        if scheme == "int4-weight" and not result.graph.quantized_ops.get("MatMulNBits"):
            raise CellFailure(
                "quantizer: no MatMul weight became MatMulNBits (only constant-weight MatMuls do)"
            )
        with stage("runtime"):
            outputs = run_session(open_session(destination, "onnx", THREADS), subject)
        outcome = quantized_verdict(against_reference(outputs, subject))
        outcome.metrics["quantized_ops"] = float(sum(result.graph.quantized_ops.values()))
        return outcome

    return cell


def tflite_fp32(subject: Subject, workdir: Path) -> Outcome:
    """Export to TFLite with litert-torch (edgeship's exporter for classifiers) and check parity in LiteRT."""
    from edgeship.export.registry import ExportOptions, get_exporter
    from edgeship.runtimes.litert_session import LiteRtSession

    partial = workdir / "model.partial.tflite"
    with stage("export error"):
        if subject.loaded is not None:
            options = ExportOptions(max_length=subject.sequence_length)
            get_exporter("tflite").export(subject.loaded, partial, options)
        else:
            _export_tflite(subject, partial)
    partial.replace(workdir / TFLITE_FILE)
    with stage("runtime"):
        session = LiteRtSession(workdir / TFLITE_FILE, threads=THREADS)
        outputs = run_session(session, subject, list(session.output_details))
    outcome = fp32_verdict(against_reference(outputs, subject), subject.tolerance)
    if subject.attention_length:
        with stage("attention check"):
            shapes = _tflite_shapes(workdir / TFLITE_FILE)
        return _with_attention(outcome, attention_tensors(shapes, subject.attention_length), subject)
    return outcome


def _export_tflite(subject: Subject, destination: Path) -> None:
    """litert-torch conversion at batch 1 with named inputs and outputs, builtin ops only."""
    import torch

    from edgeship.runtimes.tflite_graph import custom_ops, read_operators

    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    with silenced_native_stderr():
        import litert_torch
    litert_torch.config.show_progress = False
    module, output_names = subject.module, subject.output_names

    class Named(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.module = module

        def forward(self, **inputs: Any) -> dict[str, Any]:
            output = self.module(*(inputs[name] for name in subject.input_names))
            return dict(zip(output_names, output if isinstance(output, tuple) else (output,), strict=True))

    example = {
        name: torch.from_numpy(array[:1].astype("int32") if array.dtype.kind == "i" else array[:1])
        for name, array in subject.inputs.items()
    }
    with silenced_native_stderr():
        litert_torch.convert(Named().eval(), (), example).export(str(destination))
    non_builtin = custom_ops(read_operators(destination))
    if non_builtin:
        raise CellFailure(f"missing op: needs ops that are not LiteRT builtins: {', '.join(non_builtin)}")


def _tflite_shapes(path: Path) -> list[list[int]]:
    from ai_edge_litert.interpreter import Interpreter

    with silenced_native_stderr():
        interpreter = Interpreter(model_path=str(path))
    return [[int(dim) for dim in detail["shape"]] for detail in interpreter.get_tensor_details()]


def tflite_int8(subject: Subject, workdir: Path) -> Outcome:
    """Dynamic-range int8 with edgeship's TFLite backend (ai-edge-quantizer), run in LiteRT."""
    from edgeship.compress.quantize.registry import get_quantizer
    from edgeship.runtimes.litert_session import LiteRtSession

    source = _fp32_artifact(workdir / TFLITE_FILE, "TFLite")
    destination = workdir / "model-int8-dynamic.tflite"
    with stage("quantizer"):
        result = get_quantizer("tflite", "int8-dynamic").quantize(
            source, destination, QuantizationSpec(scheme="int8-dynamic"), None
        )
    with stage("runtime"):
        session = LiteRtSession(destination, threads=THREADS)
        outputs = run_session(session, subject, list(session.output_details))
    outcome = quantized_verdict(against_reference(outputs, subject))
    outcome.metrics["quantized_ops"] = float(sum(result.graph.quantized_ops.values()))
    return outcome


def _fp32_artifact(path: Path, name: str) -> Path:
    if not path.is_file():
        raise CellFailure(f"blocked: no fp32 {name} model to quantize (its export cell failed)")
    return path


CELL_RUNNERS: dict[str, CellRunner] = {
    "onnx": onnx_fp32,
    "onnx-int8": onnx_quantized("int8-dynamic"),
    "onnx-int4": onnx_quantized("int4-weight"),
    "tflite": tflite_fp32,
    "tflite-int8": tflite_int8,
}


def run_cell(cell: str, subject: Subject, workdir: Path) -> Outcome:
    """Run one cell; every failure becomes a one-line reason, never an exception."""
    try:
        return CELL_RUNNERS[cell](subject, workdir)
    except CellFailure as exc:
        return Outcome("fail", str(exc))
    except Exception as exc:  # a bug in a check must not stop the matrix
        return Outcome("fail", one_line(f"check error: {type(exc).__name__}: {exc}"))
