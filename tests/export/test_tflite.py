"""TFLite export with litert-torch, run in LiteRT: parity with PyTorch, static I/O, the builtin-ops refusal."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeship.bundle import Bundle
from edgeship.compress.quantize.spec import QuantizationSpec
from edgeship.errors import BundleError, UnsupportedModelError
from edgeship.export.parity import reference_logits
from edgeship.export.registry import ExportOptions, ExportResult, get_exporter
from edgeship.manifest import ImagePreprocessing
from edgeship.pipeline.export import export_model
from edgeship.pipeline.quantize import quantize_bundle
from edgeship.runtimes.base import open_session
from edgeship.runtimes.tflite_graph import custom_ops, read_operators
from edgeship.sources.loading import LoadedModel, load_model
from edgeship.tasks.base import sample_inputs
from tests.conftest import run_cli

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


@pytest.mark.slow  # about 70 s on 2 cores; the conformance matrix (also slow) covers the family too
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


def test_tflite_beside_onnx_in_one_bundle_quantized_and_benchmarked(
    tmp_path: Path, bert_dir: Path, text_csv: Path
) -> None:
    out = tmp_path / "bundle"
    for artifact_format in ("onnx", "tflite"):  # in-process; `edgeship export --format` calls the same
        export_model(
            str(bert_dir), out, artifact_format=artifact_format, options=ExportOptions(max_length=32)
        )
    manifest = Bundle.open(out).manifest
    assert [(s.dtype, s.shape) for s in manifest.inputs] == [("int64", ["batch", "sequence"])] * 3
    tflite = manifest.variant("tflite-fp32")
    assert [(s.name, s.dtype, s.shape) for s in tflite.inputs] == [
        ("input_ids", "int32", [1, 32]),
        ("token_type_ids", "int32", [1, 32]),
        ("attention_mask", "int32", [1, 32]),
    ]
    assert tflite.parity.max_abs_diff <= 1e-4 and manifest.variant("onnx-fp32").inputs is None

    # with no --format a bundle's onnx-fp32 is quantized; in a TFLite-only bundle, its tflite-fp32
    tflite_only = Bundle.open(shutil.copytree(out, tmp_path / "tflite-only"))
    tflite_only.manifest.variants = [v for v in tflite_only.manifest.variants if v.format == "tflite"]
    tflite_only.save()
    [fp16] = quantize_bundle(tflite_only.root, [QuantizationSpec(scheme="fp16")])
    assert fp16.source_variant == "tflite-fp32" and 0.45 < fp16.bytes / tflite.bytes < 0.55

    quantized = run_cli(
        "quantize",
        str(out),
        "--format",
        "tflite",
        "--scheme",
        "int8-dynamic,int4-weight",
        "--eval-data",
        str(text_csv),
    )
    assert quantized.returncode == 0, quantized.stderr
    variants = {v.id: v for v in Bundle.open(out).manifest.variants}
    assert list(variants) == ["onnx-fp32", "tflite-fp32", "tflite-int8-dynamic", "tflite-int4-weight"]
    for variant_id in ("tflite-int8-dynamic", "tflite-int4-weight"):
        variant = variants[variant_id]
        assert variant.inputs == tflite.inputs and variant.source_variant == "tflite-fp32"
        assert variant.parity.max_abs_diff < 0.02 and variant.parity.argmax_agreement == 1.0
        assert variant.eval_agreement >= 0.9 and variant.evaluated_on.samples == 40
        assert abs(variant.accuracy - variants["tflite-fp32"].accuracy) <= 0.1

    benched = run_cli("bench", str(out), "--device", "local", "--runs", "3", "--threads", "1")
    assert benched.returncode == 0, benched.stderr
    benchmarks = {b.variant: b for b in Bundle.open(out).manifest.benchmarks}
    assert set(benchmarks) == set(variants)
    assert benchmarks["onnx-fp32"].runtime == "onnxruntime"
    for variant_id in ("tflite-fp32", "tflite-int8-dynamic", "tflite-int4-weight"):
        assert benchmarks[variant_id].runtime == "litert" and benchmarks[variant_id].latency_ms.p50 > 0
        assert benchmarks[variant_id].input_shapes["input_ids"] == [1, 32]

    refused = run_cli("bench", str(out), "--runs", "3", "--batch", "2")
    assert refused.returncode == 1
    assert (
        "variant 'tflite-fp32' has the static input shape [1, 32]: it cannot run --batch 2" in refused.stderr
    )
    assert len(Bundle.open(out).manifest.benchmarks) == len(benchmarks)


def flex_model(path: Path) -> None:
    """A one-op .tflite whose op is the Flex (Select TF ops) kernel FlexErfinv, as TF's converter writes it."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    graph = schema.SubGraphT()
    graph.tensors = []
    for index, name in enumerate(("x", "y")):
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.type, tensor.buffer = (
            name,
            [1, 4],
            schema.TensorType.FLOAT32,
            index + 1,
        )
        graph.tensors.append(tensor)
    graph.inputs, graph.outputs = [0], [1]
    operator = schema.OperatorT()
    operator.opcodeIndex, operator.inputs, operator.outputs = 0, [0], [1]
    graph.operators = [operator]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode, code.version = "FlexErfinv", 1
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [graph]
    model.buffers = [schema.BufferT() for _ in range(3)]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))


def test_a_flex_op_in_a_file_is_named_and_the_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "flex.tflite"
    flex_model(path)
    assert custom_ops(read_operators(path)) == ["FlexErfinv"]
    with pytest.raises(BundleError) as error:
        open_session(path, "tflite")
    # the runtime names the Flex delegate it lacks; the exporter's op check (above) names the op
    assert (
        "Select TensorFlow op(s)" in error.value.message
        and "needs ops this runtime lacks" in error.value.hint
    )
