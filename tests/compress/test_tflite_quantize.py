"""TFLite quantization on ai-edge-quantizer, each scheme run in LiteRT and compared with PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeship.compress.quantize.registry import QuantizeResult, get_quantizer
from edgeship.compress.quantize.spec import QuantizationSpec
from edgeship.errors import DataError, EdgeshipError
from edgeship.export.parity import reference_logits
from edgeship.export.registry import ExportOptions, get_exporter
from edgeship.runtimes.base import open_session
from edgeship.runtimes.tflite_graph import read_operators
from edgeship.sources.loading import LoadedModel, load_model
from edgeship.tasks.base import sample_inputs

pytest.importorskip("ai_edge_quantizer")
pytest.importorskip("litert_torch")

MAX_LENGTH = 32
SAMPLES = 8


class Exported:
    """A tiny model, its fp32 .tflite, parity inputs with PyTorch's logits, and calibration batches."""

    def __init__(self, loaded: LoadedModel, directory: Path) -> None:
        self.loaded, self.directory = loaded, directory
        self.fp32 = directory / "fp32.tflite"
        get_exporter("tflite").export(loaded, self.fp32, ExportOptions(max_length=MAX_LENGTH))
        self.inputs = sample_inputs(loaded, samples=SAMPLES, max_length=MAX_LENGTH, seed=1)
        self.reference = reference_logits(loaded, self.inputs)
        self.calibration = [sample_inputs(loaded, samples=16, max_length=MAX_LENGTH, seed=2)]

    def quantize(self, scheme: str, **spec: object) -> tuple[Path, QuantizeResult]:
        destination = self.directory / f"{scheme}-{len(spec)}.tflite"
        result = get_quantizer("tflite", scheme).quantize(
            self.fp32, destination, QuantizationSpec(scheme=scheme, **spec), self.calibration
        )
        return destination, result

    def max_diff_and_agreement(self, path: Path) -> tuple[float, float]:
        session = open_session(path, "tflite", threads=2)
        logits = np.concatenate(
            [session.run({k: v[i : i + 1] for k, v in self.inputs.items()})[0] for i in range(SAMPLES)]
        )
        agreement = float(np.mean(logits.argmax(-1) == self.reference.argmax(-1)))
        return float(np.abs(logits - self.reference).max()), agreement

    def ratio(self, path: Path) -> float:
        return path.stat().st_size / self.fp32.stat().st_size


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory, bert_dir: Path) -> Exported:
    return Exported(load_model(str(bert_dir)), tmp_path_factory.mktemp("tflite-bert"))


@pytest.fixture(scope="module")
def efficientformer(tmp_path_factory: pytest.TempPathFactory, efficientformer_checkpoint: Path) -> Exported:
    loaded = load_model("timm:efficientformerv2_s0", checkpoint=efficientformer_checkpoint)
    return Exported(loaded, tmp_path_factory.mktemp("tflite-effv2"))


def weight_types(path: Path, op: str) -> set[str]:
    return {t for o in read_operators(path) if o.name == op for t in o.tensor_types}


def test_layers_are_named_by_module_path(bert: Exported) -> None:
    layers = get_quantizer("tflite", "int8-dynamic").layers(bert.fp32)
    assert layers[:3] == [
        "bert.embeddings.word_embeddings",
        "bert.embeddings.token_type_embeddings",
        "bert.encoder.0.attention.self.query",
    ]
    assert "bert.pooler.dense" in layers and len(layers) == len(set(layers)) == 16


def test_int8_dynamic(bert: Exported) -> None:
    path, result = bert.quantize("int8-dynamic")
    assert result.graph.quantized_ops == {"EMBEDDING_LOOKUP": 2, "FULLY_CONNECTED": 14}
    assert "INT8" in weight_types(path, "FULLY_CONNECTED")
    assert bert.ratio(path) < 0.33
    diff, agreement = bert.max_diff_and_agreement(path)
    assert diff < 0.01 and agreement == 1.0
    assert result.options["recipe"] == "dynamic_wi8_afp32" and "ai-edge-quantizer" in result.tools
    assert result.options["per_channel"] is True and "activation_scales" not in result.options  # ONNX's


def test_onnx_only_options_are_not_recorded_for_tflite(bert: Exported) -> None:
    """A recipe's activation_scales or target_runtime reaches every format; only ONNX's variants read them."""
    _, result = bert.quantize("int4-weight", block_size=32, target_runtime="tensorrt")
    assert result.options["block_size"] == 32 and "target_runtime" not in result.options


def test_int8_static_is_full_integer_and_calibrated(bert: Exported) -> None:
    path, result = bert.quantize("int8-static")
    ops = result.graph.quantized_ops
    assert ops["QUANTIZE"] >= 1 and ops["FULLY_CONNECTED"] == 14 and ops["BATCH_MATMUL"] == 4
    assert ops["SOFTMAX"] == 2 and ops["GELU"] == 2
    # the attention-mask ADDs broadcast across ranks; LiteRT's int8 kernel aborts on them, so they stay float
    assert result.options["float_broadcast_ops"] == 2
    assert result.options["output_dtypes"] == {"logits": "int8"}
    assert bert.ratio(path) < 0.33
    diff, agreement = bert.max_diff_and_agreement(path)
    assert diff < 0.02 and agreement == 1.0


def test_int8_static_needs_calibration(bert: Exported, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="calibration"):
        get_quantizer("tflite", "int8-static").quantize(
            bert.fp32, tmp_path / "s.tflite", QuantizationSpec(scheme="int8-static"), None
        )


def test_int4_weight_is_block_wise(bert: Exported) -> None:
    path, result = bert.quantize("int4-weight", block_size=32)
    assert result.graph.quantized_ops == {"EMBEDDING_LOOKUP": 2, "FULLY_CONNECTED": 14}
    assert "INT4" in weight_types(path, "FULLY_CONNECTED")
    assert result.options["recipe"] == "dynamic_wi4b32_afp32" and result.options["int8_layers"] == []
    assert bert.ratio(path) < 0.17
    diff, agreement = bert.max_diff_and_agreement(path)
    assert diff < 0.02 and agreement == 1.0


def test_int4_asymmetric_is_refused(bert: Exported) -> None:
    with pytest.raises(EdgeshipError, match="symmetric"):
        bert.quantize("int4-weight", symmetric=False)


def test_fp16_halves_the_weights(bert: Exported) -> None:
    path, result = bert.quantize("fp16")
    assert result.graph.quantized_ops == {"DEQUANTIZE": 16}
    assert "FLOAT16" in weight_types(path, "DEQUANTIZE")
    assert 0.45 < bert.ratio(path) < 0.55
    diff, agreement = bert.max_diff_and_agreement(path)
    assert diff < 1e-3 and agreement == 1.0


def test_keep_float_leaves_a_layer_unquantized(bert: Exported) -> None:
    _, result = bert.quantize("int8-dynamic", keep_float=("bert.pooler.dense",))
    assert result.graph.quantized_ops["FULLY_CONNECTED"] == 13
    with pytest.raises(EdgeshipError, match="not in the graph"):
        bert.quantize("int8-dynamic", keep_float=("no.such.layer",))


def test_int4_on_a_convolutional_model(efficientformer: Exported) -> None:
    path, result = efficientformer.quantize("int4-weight")
    assert "INT4" in weight_types(path, "CONV_2D")
    # the 5 x 176 heads do not split into 32-blocks: int8 per channel, like the depthwise convolutions
    assert {"head", "head_dist"} <= set(result.options["int8_layers"])
    assert efficientformer.ratio(path) < 0.25
    diff, _ = efficientformer.max_diff_and_agreement(path)
    assert diff < 0.01
