"""ONNX quantization on onnxruntime.quantization: dynamic and static int8, MatMulNBits int4."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import platform
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgeship.compress.quantize.onnx_int4 import excluded_nodes, quantize_int4
from edgeship.compress.quantize.registry import (
    CalibrationBatches,
    QuantizeResult,
    register_quantizer,
    scheme_handler,
)
from edgeship.compress.quantize.spec import QuantizationSpec
from edgeship.errors import DataError, EdgeshipError
from edgeship.manifest import GraphInfo
from edgeship.runtimes.formats import get_format

QUANTIZABLE_OPS = ("MatMul", "Gemm", "Attention", "EmbedLayerNormalization")
QUANTIZED_OPS = (
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "QAttention",
    "QEmbedLayerNormalization",
    "QLinearMatMul",
    "MatMulNBits",
)


@register_quantizer("onnx")
class OnnxQuantizer:
    """int8 (QOperator dynamic, QDQ static) and int4 weight-only (MatMulNBits) for ONNX Runtime."""

    format = "onnx"
    schemes = get_format(format).schemes

    def layers(self, source: Path) -> list[str]:
        """Names of the nodes that carry weights, in graph order."""
        import onnx

        graph = onnx.load(str(source), load_external_data=False).graph
        return [node.name for node in graph.node if node.op_type in QUANTIZABLE_OPS]

    def quantize(
        self, source: Path, destination: Path, spec: QuantizationSpec, calibration: CalibrationBatches | None
    ) -> QuantizeResult:
        """Write `source` quantized per `spec` to `destination`."""
        import onnxruntime

        _check_layers(self.layers(source), spec.keep_float)
        handler = scheme_handler(self.format, spec.scheme)
        with tempfile.TemporaryDirectory(dir=destination.parent) as scratch, _quiet():
            if handler is not None:
                options = handler(source, destination, spec, calibration)
            elif spec.scheme == "int4-weight":
                options = quantize_int4(source, destination, spec)
            else:
                prepared = Path(scratch) / "prepared.onnx"
                symbolic_shapes = _pre_process(source, prepared)
                if spec.scheme == "int8-dynamic":
                    options = _int8_dynamic(prepared, destination, spec)
                else:
                    options = _int8_static(prepared, destination, spec, calibration)
                if not symbolic_shapes:
                    _drop_shape_hints(destination)
        return QuantizeResult(
            graph=_graph_info(destination),
            options={**spec.recorded(), **options},
            tools={"onnxruntime": onnxruntime.__version__},
        )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence onnxruntime.quantization's per-tensor INFO logging and warnings."""
    logging.disable(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def _check_layers(layers: list[str], keep_float: tuple[str, ...]) -> None:
    unknown = [name for name in keep_float if name not in layers]
    if unknown:
        raise EdgeshipError(
            f"keep_float names layers that are not in the graph: {', '.join(unknown[:5])}",
            hint=f"choose from: {', '.join(layers[:8])}{' ...' if len(layers) > 8 else ''}",
        )


def _pre_process(source: Path, destination: Path) -> bool:
    """Symbolic shape inference, without re-optimizing the already fused graph (ORT's advice).

    Where the symbolic pass cannot resolve a graph (MobileBERT's shifted trigram embeddings), ONNX's own
    shape inference is enough for the quantizers; returns False then.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    # a failing symbolic pass prints the node it met and dumps a model with external data into the
    # working directory: run it in a throw-away one (with the paths resolved before leaving this one)
    source, destination = source.resolve(), destination.resolve()
    try:
        with contextlib.redirect_stdout(io.StringIO()), _inside_temporary_directory():
            quant_pre_process(str(source), str(destination), skip_optimization=True)
    except Exception as exc:  # onnxruntime raises a bare Exception for this
        if "symbolic shape inference" not in str(exc):
            raise
        quant_pre_process(str(source), str(destination), skip_optimization=True, skip_symbolic_shape=True)
        _bypass_identity_weights(destination)
        return False
    _bypass_identity_weights(destination)
    return True


@contextlib.contextmanager
def _inside_temporary_directory() -> Iterator[None]:
    """Run the body with a fresh temporary directory as the working directory, removed afterwards."""
    previous = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="edgeship-quant-") as scratch:
        os.chdir(scratch)
        try:
            yield
        finally:
            os.chdir(previous)


def _drop_shape_hints(path: Path) -> None:
    """Remove intermediate shapes ONNX's inference guessed for data-dependent ops (Longformer's global
    attention scatters): onnxruntime trusts them and fails at run time; without them it infers its own."""
    import onnx

    model = onnx.load(str(path))
    del model.graph.value_info[:]
    onnx.save(model, str(path))


def _bypass_identity_weights(path: Path) -> None:
    """Feed weights straight from their initializers: the quantizers refuse a weight behind an Identity,
    which torch.onnx.export writes for parameters with identical values (TinyViT's)."""
    import onnx

    model = onnx.load(str(path))
    initializers = {init.name for init in model.graph.initializer}
    outputs = {output.name for output in model.graph.output}
    aliases = {
        node.output[0]: node.input[0]
        for node in model.graph.node
        if node.op_type == "Identity" and node.input[0] in initializers and node.output[0] not in outputs
    }
    if not aliases:
        return
    for node in model.graph.node:
        node.input[:] = [aliases.get(name, name) for name in node.input]
    kept = [
        node for node in model.graph.node if not (node.op_type == "Identity" and node.output[0] in aliases)
    ]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    onnx.save(model, str(path))


def _int8_dynamic(source: Path, destination: Path, spec: QuantizationSpec) -> dict[str, Any]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(destination),
        weight_type=QuantType.QInt8,
        per_channel=spec.per_channel,
        nodes_to_exclude=excluded_nodes(spec),
    )
    return {"quant_format": "QOperator", "weight_type": "int8"}


def _int8_static(
    source: Path, destination: Path, spec: QuantizationSpec, calibration: CalibrationBatches | None
) -> dict[str, Any]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if not calibration:
        raise DataError(
            "int8-static needs calibration samples and none were given",
            hint="pass --calibration-data FILE (CSV/JSONL or image folder) with real task samples",
        )
    _check_calibration(source, calibration)
    target = spec.target_cpu or ("arm" if platform.machine().lower() in ("aarch64", "arm64") else "x86")
    tensorrt = spec.target_runtime == "tensorrt"
    # ORT's guidance: U8S8 is the fast pairing on x86 (VPMADDUBSW), S8S8 on ARM; TensorRT takes S8S8 only.
    activation = QuantType.QUInt8 if target == "x86" and not tensorrt else QuantType.QInt8
    method = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[spec.calibration_method]
    quantize_static(
        str(source),
        str(destination),
        _Reader(calibration),
        quant_format=QuantFormat.QDQ,
        activation_type=activation,
        weight_type=QuantType.QInt8,
        per_channel=spec.per_channel,
        calibrate_method=method,
        nodes_to_exclude=excluded_nodes(spec),
        extra_options={"ActivationSymmetric": tensorrt},
    )
    return {
        "quant_format": "QDQ",
        "activation_type": "uint8" if activation == QuantType.QUInt8 else "int8",
        "activation_symmetric": tensorrt,
        "weight_type": "int8",
        "target_cpu": target,
        "calibration_batches": len(calibration),
    }


def _check_calibration(source: Path, calibration: CalibrationBatches) -> None:
    import onnx

    graph_inputs = {i.name: len(i.type.tensor_type.shape.dim) for i in onnx.load(str(source)).graph.input}
    for batch in calibration[:1]:
        if set(batch) != set(graph_inputs):
            raise DataError(
                f"calibration inputs {sorted(batch)} do not match the model's inputs {sorted(graph_inputs)}",
                hint="calibrate with data of the model's own task",
            )
        wrong = [name for name, array in batch.items() if array.ndim != graph_inputs[name]]
        if wrong:
            raise DataError(
                f"calibration input '{wrong[0]}' has rank {batch[wrong[0]].ndim}, the model expects {graph_inputs[wrong[0]]}",
                hint="calibrate with data of the model's own task",
            )


class _Reader:
    """onnxruntime CalibrationDataReader over prepared feeds."""

    def __init__(self, batches: CalibrationBatches) -> None:
        self._batches = iter(batches)

    def get_next(self) -> dict[str, Any] | None:
        return next(self._batches, None)


def _graph_info(path: Path) -> GraphInfo:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    counts = Counter(node.op_type for node in model.graph.node)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    return GraphInfo(
        opset=opset,
        nodes=len(model.graph.node),
        quantized_ops={op: counts[op] for op in QUANTIZED_OPS if counts[op]},
    )
