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

from edgeship.compress.quantize.onnx_graph_fixes import (
    per_channel_conv_integer,
    prepare_for_int8,
    shape_arithmetic_nodes,
)
from edgeship.compress.quantize.onnx_int4 import excluded_nodes, quantize_int4, unfuse_for_weight_only
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

ACTIVATION_BLOCK = 32
"""int8-dynamic with block activation scales: values per scale along each row."""
QUANTIZABLE_OPS = ("MatMul", "Gemm", "Conv", "ConvTranspose", "Attention", "EmbedLayerNormalization")
QUANTIZED_OPS = (
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "ConvInteger",
    "QLinearConv",
    "QAttention",
    "QEmbedLayerNormalization",
    "QLinearMatMul",
    "MatMulNBits",
    "GatherBlockQuantized",
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
                options = quantize_int4(source, destination, spec, calibration)
            else:
                prepared = Path(scratch) / "prepared.onnx"
                symbolic_shapes = _pre_process(source, prepared)
                rewrites = prepare_for_int8(prepared)
                if spec.scheme == "int8-dynamic":
                    options = _int8_dynamic(prepared, destination, spec)
                    if spec.per_channel:  # quantize_dynamic gives ConvInteger one scale per tensor
                        # 8-bit even where MatMul weights are 7-bit: Lite0 loses 1.5 points at 7 bits, 0.5 at 8
                        rewrites["conv_integer_per_channel"] = per_channel_conv_integer(prepared, destination)
                else:
                    options = _int8_static(prepared, destination, spec, calibration)
                options = {**options, **{name: count for name, count in rewrites.items() if count}}
                if not symbolic_shapes:
                    _drop_shape_hints(destination)
        return QuantizeResult(
            graph=_graph_info(destination),
            options={**spec.recorded(self.format), **options},
            tools={"onnxruntime": onnxruntime.__version__},
        )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence onnxruntime.quantization's per-tensor INFO logging and its warnings (the int4 quantizer warns that
    it raises the opset to 21 and the result "may not be a valid model": parity checks that)."""
    logging.disable(logging.WARNING)
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
    """int8 weights, activations quantized at run time by quantize_dynamic (MatMulInteger, QAttention,
    QEmbedLayerNormalization, ConvInteger), with 7-bit weights on x86 CPUs without VNNI, where int8 x
    uint8 products saturate (ORT's reduce_range advice).

    Its activation scale covers a whole tensor (every row of the batch), which costs MiniLM about 1.3% of
    its decisions, spread over every layer. `activation_scales="block"` makes the constant-weight MatMuls
    (and a fused Attention's packed QKV projection, unfused for it) 8-bit MatMulNBits instead, whose
    accuracy_level 4 quantizes activations per block of 32 in each row.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    reduce_range = saturating_x86_host()
    options: dict[str, Any] = {
        "quant_format": "QOperator",
        "weight_type": "int8",
        "reduce_range": reduce_range,
    }
    blocked = destination.with_name(f".{destination.name}.blocks.onnx")
    if spec.activation_scales == "block":
        options.update(_matmuls_as_8bit_blocks(source, blocked, spec))
        source = blocked
    try:
        quantize_dynamic(
            str(source),
            str(destination),
            weight_type=QuantType.QInt8,
            per_channel=spec.per_channel,
            reduce_range=reduce_range,
            nodes_to_exclude=excluded_nodes(spec),
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # MultiHeadAttention has no shape
        )
    finally:
        blocked.unlink(missing_ok=True)
    return options


def saturating_x86_host() -> bool:
    """An x86 CPU with AVX2 and no VNNI: VPMADDUBSW's int16 sums of u8 x s8 products saturate there."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    flags = ""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    return "avx2" in flags and "avx512_vnni" not in flags and "avx_vnni" not in flags


def _matmuls_as_8bit_blocks(source: Path, destination: Path, spec: QuantizationSpec) -> dict[str, Any]:
    """Write `source` with its constant-weight MatMuls as 8-bit MatMulNBits (block 32, accuracy_level 4)."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    model = onnx.load(str(source))
    embeddings = tuple(node.name for node in model.graph.node if node.op_type == "EmbedLayerNormalization")
    unfused = unfuse_for_weight_only(model, (*spec.keep_float, *embeddings))
    blocks = MatMulNBitsQuantizer(
        model,
        bits=8,
        block_size=ACTIVATION_BLOCK,
        is_symmetric=True,
        accuracy_level=4,
        nodes_to_exclude=excluded_nodes(spec),
    )
    blocks.process()
    onnx.save(blocks.model.model, str(destination))
    return {"matmul": f"MatMulNBits 8-bit, block {ACTIVATION_BLOCK}, accuracy_level 4", "unfused": unfused}


def _int8_static(
    source: Path, destination: Path, spec: QuantizationSpec, calibration: CalibrationBatches | None
) -> dict[str, Any]:
    import onnx
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
    # u8 x s8 pairs saturate their int16 sums on the AVX2 CPUs without VNNI: 7-bit weights there, as dynamic
    reduce_range = activation == QuantType.QUInt8 and saturating_x86_host()
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
        reduce_range=reduce_range,
        calibrate_method=method,
        # sizes computed from Shape outputs that did not fold (dynamic H/W) are not activations
        nodes_to_exclude=[*excluded_nodes(spec), *shape_arithmetic_nodes(onnx.load(str(source)))],
        extra_options={"ActivationSymmetric": tensorrt},
    )
    return {
        "quant_format": "QDQ",
        "activation_type": "uint8" if activation == QuantType.QUInt8 else "int8",
        "activation_symmetric": tensorrt,
        "weight_type": "int8",
        "reduce_range": reduce_range,
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
