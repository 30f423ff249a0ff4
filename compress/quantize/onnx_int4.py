"""ONNX int4 weight-only quantization: MatMulNBits (ONNX Runtime) or block DequantizeLinear (TensorRT)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeship.compress.quantize.spec import QuantizationSpec
from edgeship.errors import EdgeshipError


def excluded_nodes(spec: QuantizationSpec) -> list[str]:
    """keep_float names plus the names ORT's quantizers give a Gemm after rewriting it as MatMul + Add."""
    return [name for layer in spec.keep_float for name in (layer, f"{layer}_MatMul")]


def quantize_int4(source: Path, destination: Path, spec: QuantizationSpec) -> dict[str, Any]:
    import onnx
    from onnxruntime.quantization import QuantFormat
    from onnxruntime.quantization.matmul_nbits_quantizer import HQQWeightOnlyQuantConfig, MatMulNBitsQuantizer

    """Write `source` with its MatMuls as 4-bit blocks: MatMulNBits for ONNX Runtime, block Q/DQ for TensorRT."""
    model = onnx.load(str(source))
    _check_block_size(model, spec)
    algorithm = (
        HQQWeightOnlyQuantConfig(block_size=spec.block_size, bits=4) if spec.int4_algorithm == "hqq" else None
    )
    tensorrt = spec.target_runtime == "tensorrt"
    if tensorrt and (algorithm is not None or not spec.symmetric):
        raise EdgeshipError(
            "int4 for TensorRT must be symmetric round-to-nearest (TensorRT takes no int4 zero points)",
            hint="drop --int4-algorithm hqq / --no-symmetric with --target-runtime tensorrt",
        )
    # accuracy_level 4 (int8 compute) is what makes int4 faster than fp32 on CPUs; TensorRT reads int4
    # weights as block DequantizeLinear (opset 21) instead of ONNX Runtime's MatMulNBits.
    quantizer = MatMulNBitsQuantizer(
        model,
        bits=4,
        block_size=spec.block_size,
        is_symmetric=spec.symmetric and spec.int4_algorithm == "rtn",
        accuracy_level=None if tensorrt else 4,
        nodes_to_exclude=excluded_nodes(spec),
        algo_config=algorithm,
        quant_format=QuantFormat.QDQ if tensorrt else QuantFormat.QOperator,
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(destination), use_external_data_format=False)
    if tensorrt:
        return {"quant_format": "QDQ", "bits": 4}
    return {"quant_format": "MatMulNBits", "accuracy_level": 4, "bits": 4}


def _check_block_size(model: Any, spec: QuantizationSpec) -> None:
    """Refuse a block size that does not divide a quantized weight's input dimension."""
    from onnx import numpy_helper

    weights = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.name in spec.keep_float or node.input[1] not in weights:
            continue
        rows = numpy_helper.to_array(weights[node.input[1]]).shape[0]
        if rows % spec.block_size:
            raise EdgeshipError(
                f"block size {spec.block_size} does not divide layer {node.name}'s input dimension {rows}",
                hint="choose --block-size 32, 64 or 128 that divides it, or keep that layer float",
            )
