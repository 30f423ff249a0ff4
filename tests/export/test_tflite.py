"""TFLite export with litert-torch, run in LiteRT: parity with PyTorch, static I/O, the builtin-ops refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeship.compress.sources import LoadedModel, load_model
from edgeship.errors import UnsupportedModelError
from edgeship.export.parity import reference_logits
from edgeship.export.registry import ExportOptions, ExportResult, get_exporter
from edgeship.export.sample_inputs import sample_inputs
from edgeship.export.tflite_graph import custom_ops, read_operators
from edgeship.manifest import ImagePreprocessing
from edgeship.runtimes.base import open_session

pytest.importorskip("litert_torch")

SAMPLES = 8


def export_and_compare(loaded: LoadedModel, destination: Path, max_length: int) -> tuple[ExportResult, float]:
    """Export, then run SAMPLES rows one at a time in LiteRT; max abs diff against PyTorch's logits."""
    result = get_exporter("tflite").export(loaded, destination, ExportOptions(max_length=max_length))
    session = open_session(destination, "tflite", threads=2)
    assert session.runtime == "ai-edge-litert" and session.fixed_batch == 1
    inputs = sample_inputs(loaded, samples=SAMPLES, max_length=max_length, seed=1)
    reference = reference_logits(loaded, inputs)
    logits = np.concatenate(
        [session.run({name: rows[i : i + 1] for name, rows in inputs.items()})[0] for i in range(SAMPLES)]
    )
    assert (logits.argmax(-1) == reference.argmax(-1)).all()
    return result, float(np.abs(logits - reference).max())


def test_bert_exports_with_static_int32_inputs_and_parity(tmp_path: Path, bert_dir: Path) -> None:
    loaded = load_model(str(bert_dir))
    result, diff = export_and_compare(loaded, tmp_path / "bert.tflite", max_length=128)
    assert diff <= 1e-4
    assert [(s.name, s.dtype, s.shape) for s in result.inputs] == [
        ("input_ids", "int32", [1, 128]),
        ("token_type_ids", "int32", [1, 128]),
        ("attention_mask", "int32", [1, 128]),
    ]
    assert [(s.name, s.dtype, s.shape) for s in result.outputs] == [("logits", "float32", [1, 3])]
    assert result.options == {"static_shapes": True, "batch": 1, "max_length": 128, "input_dtype": "int32"}
    # two encoder layers: Q, K, V, attention output, FFN in and out = 12 + pooler + classifier
    assert result.graph.fused_ops == {
        "FULLY_CONNECTED": 14,
        "BATCH_MATMUL": 4,
        "EMBEDDING_LOOKUP": 2,
        "GELU": 2,
        "SOFTMAX": 2,
    }
    assert result.graph.optimizer == "litert-torch" and result.graph.nodes > 50
    assert custom_ops(read_operators(tmp_path / "bert.tflite")) == []
    assert set(result.tools) == {"torch", "litert-torch", "ai-edge-litert"}


def test_distilbert_parity(tmp_path: Path, distilbert_dir: Path) -> None:
    result, diff = export_and_compare(load_model(str(distilbert_dir)), tmp_path / "d.tflite", max_length=32)
    assert diff <= 1e-4
    assert [s.name for s in result.inputs] == ["input_ids", "attention_mask"]


def test_vit_parity_with_a_static_image_shape(tmp_path: Path, vit_dir: Path) -> None:
    result, diff = export_and_compare(load_model(str(vit_dir)), tmp_path / "vit.tflite", max_length=32)
    assert diff <= 1e-4
    assert [(s.name, s.dtype, s.shape) for s in result.inputs] == [
        ("pixel_values", "float32", [1, 3, 32, 32])
    ]
    assert result.options["image_size"] == [32, 32]


def test_efficientformer_parity(tmp_path: Path, efficientformer_checkpoint: Path) -> None:
    loaded = load_model("timm:efficientformerv2_s0", checkpoint=efficientformer_checkpoint)
    result, diff = export_and_compare(loaded, tmp_path / "effv2.tflite", max_length=32)
    assert diff <= 1e-4
    assert result.inputs[0].shape == [1, 3, 224, 224]
    assert result.graph.fused_ops["CONV_2D"] > 50 and result.graph.fused_ops["DEPTHWISE_CONV_2D"] > 10


def test_the_session_casts_int64_feeds_and_keeps_names(tmp_path: Path, distilbert_dir: Path) -> None:
    loaded = load_model(str(distilbert_dir))
    get_exporter("tflite").export(loaded, tmp_path / "d.tflite", ExportOptions(max_length=16))
    session = open_session(tmp_path / "d.tflite", "tflite", threads=1)
    feeds = sample_inputs(loaded, samples=1, max_length=16)
    assert {a.dtype for a in feeds.values()} == {np.dtype(np.int64)}
    [logits] = session.run(feeds)
    assert logits.shape == (1, 2) and logits.dtype == np.float32


def tiny_image_model(body: Any) -> LoadedModel:
    """A 'timm-style' image classifier whose forward applies `body` to the pooled pixels."""
    import torch

    class Model(torch.nn.Module):
        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return body(pixel_values.mean(dim=(2, 3)))

    return LoadedModel(
        model=Model().eval(),
        framework="timm",
        architecture="NeedsAnotherOp",
        model_type="custom",
        task="image-classification",
        labels=["a", "b", "c"],
        source="test",
        image_preprocessing=ImagePreprocessing(
            size=(8, 8), resize_shorter_to=8, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)
        ),
        input_names=["pixel_values"],
    )


def test_an_op_without_a_builtin_lowering_is_refused_by_name(tmp_path: Path) -> None:
    import torch

    loaded = tiny_image_model(lambda x: torch.erfinv(x.tanh() * 0.5))
    with pytest.raises(UnsupportedModelError) as error:
        get_exporter("tflite").export(loaded, tmp_path / "m.tflite", ExportOptions())
    assert "aten.erfinv" in error.value.message and "NeedsAnotherOp" in error.value.message
    assert "Flex" in error.value.hint
    assert not (tmp_path / "m.tflite").exists()


def test_an_op_the_runtime_has_no_kernel_for_is_refused_by_name(tmp_path: Path) -> None:
    import torch

    loaded = tiny_image_model(lambda x: torch.sort(x, dim=-1).values)
    with pytest.raises(UnsupportedModelError) as error:
        get_exporter("tflite").export(loaded, tmp_path / "m.tflite", ExportOptions())
    assert "STABLEHLO_SORT" in error.value.message
    assert not (tmp_path / "m.tflite").exists()
