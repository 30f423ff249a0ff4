"""TFLite quantization on ai-edge-quantizer: dynamic and full-integer int8, block-wise int4, fp16."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from edgeship.compress.quantize.registry import (
    CalibrationBatches,
    QuantizeResult,
    register_quantizer,
    scheme_handler,
)
from edgeship.compress.quantize.spec import QuantizationSpec
from edgeship.compress.quantize.tflite_layers import (
    Layer,
    constant_lhs_batch_matmuls,
    read_layers,
    runtime_unsafe_scopes,
)
from edgeship.errors import DataError, EdgeshipError, MissingDependencyError
from edgeship.manifest import GraphInfo, TensorSpec
from edgeship.runtimes.formats import get_format
from edgeship.runtimes.tflite_graph import (
    compute_op_counts,
    quantized_op_counts,
    read_operators,
    read_signature,
)

SIGNATURE = "serving_default"
LOAD_CHECK = "import sys; from ai_edge_litert.interpreter import Interpreter as I; I(model_path=sys.argv[1]).allocate_tensors()"


@register_quantizer("tflite")
class TfliteQuantizer:
    """Maps the spec onto ai-edge-quantizer recipes; every result is checked to load in LiteRT."""

    format = "tflite"
    schemes = get_format(format).schemes

    def layers(self, source: Path) -> list[str]:
        """Names of the ops with weights (fully connected, convolutions, embeddings), in graph order."""
        _quantizer_module()
        return list(dict.fromkeys(layer.name for layer in read_layers(source)))

    def quantize(
        self, source: Path, destination: Path, spec: QuantizationSpec, calibration: CalibrationBatches | None
    ) -> QuantizeResult:
        """Write `source` quantized per `spec` to `destination`."""
        quantizer_module = _quantizer_module()
        layers = read_layers(source)
        _check_keep_float([layer.name for layer in layers], spec.keep_float)
        handler = scheme_handler(self.format, spec.scheme)
        if handler is not None:
            options = handler(source, destination, spec, calibration)
            _check_loads(destination, spec.scheme)
            return self._result(destination, spec, options)
        recipe, options = _recipe(spec, layers, source)
        quantizer = quantizer_module.Quantizer(str(source), recipe)
        calibration_result = None
        if spec.scheme == "int8-static":
            rows = _calibration_rows(source, calibration, spec.calibration_samples)
            with _quiet():
                calibration_result = quantizer.calibrate({SIGNATURE: rows})
        with tempfile.TemporaryDirectory(dir=destination.parent) as scratch, _quiet():
            written = Path(scratch) / destination.name
            quantizer.quantize(calibration_result, enable_progress_report=False).export_model(str(written))
            _check_loads(written, spec.scheme)
            written.replace(destination)
        return self._result(destination, spec, options)

    def _result(self, destination: Path, spec: QuantizationSpec, options: dict[str, Any]) -> QuantizeResult:
        """What the written file holds: graph facts, I/O signature, the options that made it."""
        operators = read_operators(destination)
        inputs, outputs = read_signature(destination)
        return QuantizeResult(
            graph=GraphInfo(
                nodes=len(operators),
                optimizer="ai-edge-quantizer",
                fused_ops=compute_op_counts(operators),
                quantized_ops=quantized_op_counts(operators),
            ),
            options={**spec.recorded(self.format), **options, **_io_types(inputs, outputs)},
            tools={"ai-edge-quantizer": metadata.version("ai-edge-quantizer")},
            inputs=inputs,
            outputs=outputs,
        )


def _quantizer_module() -> Any:
    try:
        from ai_edge_quantizer import quantizer
    except ImportError as exc:
        raise MissingDependencyError(
            "TFLite quantization needs ai-edge-quantizer, which is not installed",
            hint="pip install 'edgeship[tflite]'",
        ) from exc
    return quantizer


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence ai-edge-quantizer's progress bars, logging and warnings (all-zero blocks divide by 0)."""
    logging.disable(logging.WARNING)
    try:
        with (
            contextlib.redirect_stderr(io.StringIO()),
            contextlib.redirect_stdout(io.StringIO()),
            warnings.catch_warnings(),
            np.errstate(divide="ignore", invalid="ignore"),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def _check_keep_float(layers: list[str], keep_float: tuple[str, ...]) -> None:
    unknown = [name for name in keep_float if name not in layers]
    if unknown:
        raise EdgeshipError(
            f"keep_float names layers that are not in the graph: {', '.join(unknown[:5])}",
            hint=f"choose from: {', '.join(layers[:8])}{' ...' if len(layers) > 8 else ''}",
        )


def _recipe(spec: QuantizationSpec, layers: list[Layer], source: Path) -> tuple[Any, dict[str, Any]]:
    """The ai-edge-quantizer recipe for `spec`, and what it decided beyond the spec."""
    from ai_edge_quantizer import algorithm_manager, qtyping, recipe_manager

    every_op, granularity = qtyping.TFLOperationName.ALL_SUPPORTED, qtyping.QuantGranularity
    channel = granularity.CHANNELWISE if spec.per_channel else granularity.TENSORWISE
    manager = recipe_manager.RecipeManager()
    options: dict[str, Any] = {"recipe": spec.scheme}
    int8_fallback: list[str] = []
    if spec.scheme == "int8-dynamic":
        manager.add_dynamic_config(".*", every_op, 8, granularity=channel)
        options["recipe"] = "dynamic_wi8_afp32"
    elif spec.scheme == "int4-weight":
        _check_int4(spec)
        operation = qtyping.TFLOperationName
        manager.add_dynamic_config(".*", every_op, 4, granularity=granularity(f"BLOCKWISE_{spec.block_size}"))
        # LiteRT has no block-wise convolutions: int4 per output channel, int8 for depthwise ones.
        manager.add_dynamic_config(".*", operation.CONV_2D, 4, granularity=granularity.CHANNELWISE)
        manager.add_dynamic_config(".*", operation.DEPTHWISE_CONV_2D, 8, granularity=granularity.CHANNELWISE)
        # Weights whose reduction axis is not a multiple of the block size get int8 per channel.
        for layer in layers:
            if layer.blockwise and layer.reduction_size % spec.block_size:
                manager.add_dynamic_config(
                    _exact(layer.scope), every_op, 8, granularity=granularity.CHANNELWISE
                )
            if layer.op == "DEPTHWISE_CONV_2D" or (
                layer.blockwise and layer.reduction_size % spec.block_size
            ):
                int8_fallback.append(layer.name)
        options.update(
            recipe=f"dynamic_wi4b{spec.block_size}_afp32",
            conv_weights="int4 per-channel",
            int8_layers=int8_fallback,
        )
    elif spec.scheme == "int8-static":
        if spec.calibration_method != "minmax":
            raise EdgeshipError(
                f"TFLite int8-static calibrates with minmax only, not {spec.calibration_method}",
                hint="pass --calibration-method minmax for the tflite format",
            )
        manager.add_static_config(".*", every_op, 8, 8, weight_granularity=channel)
        manager.add_dynamic_config(".*", qtyping.TFLOperationName.EMBEDDING_LOOKUP, 8, granularity=channel)
        unsafe = runtime_unsafe_scopes(source)
        for scope in unsafe:
            manager.add_quantization_config(
                _exact(scope), every_op, algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE
            )
        options.update(recipe="static_wi8_ai8", float_broadcast_ops=len(unsafe))
    else:
        manager.add_weight_only_config(
            ".*", every_op, 16, algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING
        )
        options["recipe"] = "weight_only_wf16_afp32"
    if spec.scheme in ("int8-dynamic", "int4-weight"):
        float_operands = constant_lhs_batch_matmuls(source)
        for scope in float_operands:
            manager.add_quantization_config(
                _exact(scope), every_op, algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE
            )
        if float_operands:
            options["float_batch_matmuls"] = len(float_operands)
    kept = [layer for layer in layers if layer.name in spec.keep_float]
    for layer in kept:
        manager.add_quantization_config(
            _exact(layer.scope), every_op, algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE
        )
    return manager.get_quantization_recipe(), options


def _check_int4(spec: QuantizationSpec) -> None:
    if not spec.symmetric or spec.int4_algorithm != "rtn":
        raise EdgeshipError(
            "LiteRT runs symmetric round-to-nearest int4 weights only",
            hint="use --symmetric and --int4-algorithm rtn for the tflite format",
        )


def _exact(scope: str) -> str:
    return f"^{re.escape(scope)}$"


def _calibration_rows(
    source: Path, calibration: CalibrationBatches | None, limit: int
) -> list[dict[str, np.ndarray]]:
    """Calibration batches split into batch-1 rows cast to the artifact's input types."""
    from edgeship.runtimes.litert_session import LiteRtSession

    if not calibration:
        raise DataError(
            "int8-static needs calibration samples and none were given",
            hint="pass --calibration-data FILE (CSV/JSONL or image folder) with real task samples",
        )
    details = LiteRtSession(source, threads=1).input_details
    missing = sorted(set(details) - set(calibration[0]))
    if missing:
        raise DataError(
            f"calibration samples lack the model's inputs: {', '.join(missing)}",
            hint="calibrate with samples preprocessed for this model",
        )
    rows = []
    for batch in calibration:
        for index in range(len(next(iter(batch.values())))):
            rows.append(
                {name: _fit(batch[name][index : index + 1], detail) for name, detail in details.items()}
            )
    return rows[:limit]


def _fit(row: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Cast a row to the input's dtype; pad text rows shorter than the static sequence length."""
    shape = [int(dim) for dim in detail["shape"]]
    if list(row.shape) != shape:
        if row.ndim != 2 or row.shape[1] > shape[1]:
            raise DataError(
                f"a calibration sample has shape {list(row.shape)}; the model takes {shape}",
                hint="tokenize calibration text to the export's max_length (or resize images to its size)",
            )
        row = np.pad(row, ((0, 0), (0, shape[1] - row.shape[1])))
    return row.astype(detail["dtype"])


def _check_loads(path: Path, scheme: str) -> None:
    """Load the result in a child process: a kernel that rejects a quantized op aborts natively."""
    result = subprocess.run(
        [sys.executable, "-c", LOAD_CHECK, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise EdgeshipError(
            f"LiteRT cannot load the {scheme} model ai-edge-quantizer wrote: {last[:200]}",
            hint="keep the failing layers float with --keep-float, or choose another scheme",
        )


def _io_types(inputs: list[TensorSpec], outputs: list[TensorSpec]) -> dict[str, Any]:
    """The quantized artifact's input and output dtypes (int8-static makes float I/O int8)."""
    return {
        "input_dtypes": {spec.name: spec.dtype for spec in inputs},
        "output_dtypes": {spec.name: spec.dtype for spec in outputs},
    }
