"""ONNX int4-weight on ONNX Runtime's fused BERT graph: embeddings and QKV projections become 4-bit too."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgeship.compress.quantize.onnx_int4 import quantize_int4, unfuse_for_weight_only
from edgeship.compress.quantize.spec import QuantizationSpec


@pytest.fixture(scope="module")
def fp32_model(tmp_path_factory: pytest.TempPathFactory, bert_dir: Path) -> Path:
    """The tiny 2-layer BERT of conftest exported with ORT's fusions (EmbedLayerNormalization, Attention)."""
    import edgeship

    bundle = edgeship.export(str(bert_dir), tmp_path_factory.mktemp("int4") / "bundle", max_length=16)
    path = bundle.root / bundle.manifest.variant("onnx-fp32").file
    assert {"EmbedLayerNormalization", "Attention"} <= set(op_counts(path))
    return path


def op_counts(path: Path) -> Counter:
    return Counter(node.op_type for node in onnx.load(str(path)).graph.node)


def feeds(batch: int = 3, length: int = 12) -> dict[str, np.ndarray]:
    """Right-padded rows of different lengths, so the attention mask matters."""
    rng = np.random.default_rng(0)
    mask = np.zeros((batch, length), dtype=np.int64)
    for row, used in enumerate(np.linspace(length, 3, batch).astype(int)):
        mask[row, :used] = 1
    ids = rng.integers(1000, 30000, size=(batch, length)) * mask
    return {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": mask}


def logits(path: Path) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feeds())[0]


def test_unfused_graph_computes_the_same_logits(fp32_model: Path, tmp_path: Path) -> None:
    model = onnx.load(str(fp32_model))
    assert unfuse_for_weight_only(model) == {"EmbedLayerNormalization": 1, "Attention": 2}
    onnx.checker.check_model(model)
    unfused = tmp_path / "unfused.onnx"
    onnx.save(model, str(unfused))
    counts = op_counts(unfused)
    assert (
        counts["MultiHeadAttention"] == 2
        and not counts["Attention"]
        and not counts["EmbedLayerNormalization"]
    )
    np.testing.assert_allclose(logits(unfused), logits(fp32_model), atol=1e-4)


def test_int4_quantizes_embeddings_and_attention_projections(fp32_model: Path, tmp_path: Path) -> None:
    destination = tmp_path / "int4.onnx"
    options = quantize_int4(fp32_model, destination, QuantizationSpec(scheme="int4-weight"))
    assert options["embeddings"] == "GatherBlockQuantized"
    assert options["unfused"] == {"EmbedLayerNormalization": 1, "Attention": 2}
    counts = op_counts(destination)
    # per layer: QKV, attention output, intermediate, output
    assert counts["GatherBlockQuantized"] == 1 and counts["MatMulNBits"] == 8 and not counts["MatMul"]
    # the 30522 x 64 word table was most of the bytes: 4-bit blocks leave well under a fifth
    assert destination.stat().st_size < 0.2 * fp32_model.stat().st_size
    assert np.abs(logits(destination) - logits(fp32_model)).max() < 0.5


def test_int4_keep_float_leaves_the_fused_node(fp32_model: Path, tmp_path: Path) -> None:
    destination = tmp_path / "int4.onnx"
    spec = QuantizationSpec(scheme="int4-weight", keep_float=("EmbedLayerNormalization_0", "Attention_1"))
    options = quantize_int4(fp32_model, destination, spec)
    assert options["embeddings"] == "float" and options["unfused"] == {"Attention": 1}
    counts = op_counts(destination)
    assert (
        counts["EmbedLayerNormalization"] == 1
        and counts["Attention"] == 1
        and counts["MultiHeadAttention"] == 1
    )
    assert not counts["GatherBlockQuantized"] and counts["MatMulNBits"] == 7


def test_int4_hqq_takes_round_to_nearest_embeddings(fp32_model: Path, tmp_path: Path) -> None:
    destination = tmp_path / "int4.onnx"
    quantize_int4(fp32_model, destination, QuantizationSpec(scheme="int4-weight", int4_algorithm="hqq"))
    nodes = onnx.load(str(destination)).graph.node
    assert all(len(n.input) >= 4 for n in nodes if n.op_type == "MatMulNBits")  # HQQ zero points
    assert [n.op_type for n in nodes].count("GatherBlockQuantized") == 1
    assert np.abs(logits(destination) - logits(fp32_model)).max() < 0.5


def test_int4_for_tensorrt_keeps_embeddings_and_fused_nodes_float(fp32_model: Path, tmp_path: Path) -> None:
    destination = tmp_path / "int4.onnx"
    options = quantize_int4(
        fp32_model, destination, QuantizationSpec(scheme="int4-weight", target_runtime="tensorrt")
    )
    assert options == {"quant_format": "QDQ", "bits": 4}
    counts = op_counts(destination)
    assert (
        counts["EmbedLayerNormalization"] == 1
        and not counts["GatherBlockQuantized"]
        and not counts["MatMulNBits"]
    )
    assert counts["DequantizeLinear"] == 6


def test_int8_dynamic_activation_scales_per_tensor_or_per_block(fp32_model: Path, tmp_path: Path) -> None:
    from edgeship.compress.quantize.onnx_backend import OnnxQuantizer

    tensor = OnnxQuantizer().quantize(
        fp32_model, tmp_path / "t.onnx", QuantizationSpec(scheme="int8-dynamic"), None
    )
    assert "matmul" not in tensor.options and isinstance(tensor.options["reduce_range"], bool)
    counts = op_counts(tmp_path / "t.onnx")
    assert counts["QAttention"] == 2 and counts["MatMulInteger"] >= 6 and not counts["MatMulNBits"]
    spec = QuantizationSpec(scheme="int8-dynamic", activation_scales="block")
    block = OnnxQuantizer().quantize(fp32_model, tmp_path / "b.onnx", spec, None)
    assert block.options["matmul"] == "MatMulNBits 8-bit, block 32, accuracy_level 4"
    assert block.options["activation_scales"] == "block" and block.options["unfused"] == {"Attention": 2}
    counts = op_counts(tmp_path / "b.onnx")
    assert counts["MatMulNBits"] == 8 and counts["QEmbedLayerNormalization"] == 1 and not counts["Attention"]
    reference = logits(fp32_model)
    block_error = np.abs(logits(tmp_path / "b.onnx") - reference).max()
    assert block_error < 0.1


def test_int4_gptq_rounds_against_calibration_inputs(fp32_model: Path, tmp_path: Path) -> None:
    """GPTQ (onnxruntime's) takes the same MatMuls and tables as RTN, with other roundings, from real feeds."""
    from edgeship.errors import DataError, EdgeshipError

    spec = QuantizationSpec(scheme="int4-weight", int4_algorithm="gptq")
    with pytest.raises(DataError, match="gptq needs calibration samples"):
        quantize_int4(fp32_model, tmp_path / "none.onnx", spec)
    rows = feeds(batch=8)
    calibration = [{name: array[row : row + 1] for name, array in rows.items()} for row in range(8)]
    tensorrt = spec.model_copy(update={"target_runtime": "tensorrt"})
    with pytest.raises(EdgeshipError, match="int4 for TensorRT must be symmetric round-to-nearest"):
        quantize_int4(fp32_model, tmp_path / "trt.onnx", tensorrt, calibration)
    gptq, rtn = tmp_path / "gptq.onnx", tmp_path / "rtn.onnx"
    options = quantize_int4(fp32_model, gptq, spec, calibration)
    quantize_int4(fp32_model, rtn, QuantizationSpec(scheme="int4-weight"))
    assert options["embeddings"] == "GatherBlockQuantized"
    counts = op_counts(gptq)
    assert counts["MatMulNBits"] == 8 and counts["GatherBlockQuantized"] == 1 and not counts["MatMul"]

    def packed(path: Path) -> dict[str, bytes]:
        model = onnx.load(str(path))
        weights = {init.name: init.raw_data for init in model.graph.initializer}
        return {n.name: weights[n.input[1]] for n in model.graph.node if n.op_type == "MatMulNBits"}

    gptq_weights, rtn_weights = packed(gptq), packed(rtn)
    assert len(gptq_weights) == 8 and sum(gptq_weights[n] != rtn_weights.get(n) for n in gptq_weights) >= 4
    assert np.abs(logits(gptq) - logits(fp32_model)).max() < 0.5
