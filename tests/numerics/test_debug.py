"""`edgeship debug`: PyTorch, ONNX Runtime and LiteRT lined up module by module on a tiny BERT."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import edgeship
from edgeship.bundle import Bundle, sha256_of
from edgeship.manifest import SNR_CEILING_DB
from edgeship.numerics.names import module_outputs, onnx_scope, tflite_scope, torch_key
from tests.conftest import run_cli

FLOAT_SNR_DB = 40.0
"""fp32 artifacts against PyTorch: float rounding and fused kernels alone (seen: above 60 dB)."""


@pytest.fixture(scope="module")
def debug_bundle(
    tmp_path_factory: pytest.TempPathFactory, bert_dir: Path, text_rows: list[dict[str, str]]
) -> Path:
    """The tiny BERT as ONNX and TFLite (16 tokens), with ONNX int8-dynamic and TFLite int8-static."""
    out = tmp_path_factory.mktemp("debug") / "bert"
    calibration = out.parent / "calibration.csv"
    calibration.write_text("text,label\n" + "".join(f"{row['text']},{row['label']}\n" for row in text_rows))
    edgeship.export(str(bert_dir), out, max_length=16)
    edgeship.export(str(bert_dir), out, max_length=16, format="tflite")
    edgeship.quantize(out, "int8-dynamic", format="onnx")
    edgeship.quantize(
        out, "int8-static", format="tflite", calibration_data=calibration, calibration_samples=16
    )
    return out


@pytest.fixture()
def bundle(tmp_path: Path, debug_bundle: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(debug_bundle, copy)
    return copy


def test_names_carry_the_module_paths_of_both_exporters() -> None:
    onnx = "/model/bert/encoder/layer.1/attention/output/LayerNorm/LayerNormalization_output_0"
    litert = (
        "edgeship.export.tflite_exporter._named_logits.<locals>.NamedLogits/"
        "edgeship.sources.loading.LoadedModel.logits_module.<locals>.Logits_logits_module/"
        "transformers.models.bert.modeling_bert.BertForSequenceClassification_model/"
        "transformers.models.bert.modeling_bert.BertModel_bert/"
        "transformers.models.bert.modeling_bert.BertEncoder_encoder/"
        "transformers.models.bert.modeling_bert.BertLayer_1/"
        "transformers.models.bert.modeling_bert.BertAttention_attention/"
        "transformers.models.bert.modeling_bert.BertSelfOutput_output/"
        "torch.nn.modules.normalization.LayerNorm_LayerNorm;5"
    )
    key = "model.bert.encoder.1.attention.output.LayerNorm"
    assert onnx_scope(onnx) == key
    assert tflite_scope(litert) == f"logits_module.{key}"
    assert (
        torch_key("model.bert.encoder.layer.1.attention.output.LayerNorm", {"model.bert.encoder.layer"})
        == key
    )
    assert tflite_scope(f"{litert};;{litert}") is None  # a fused tensor: several locations, no single module
    tensors = ["/m/a/MatMul_output_0", "/m/a/b/Add_output_0", "/m/c/Relu_output_0"]
    outputs = module_outputs(tensors, {t: onnx_scope(t) for t in tensors})
    assert outputs == {"m.a.b": "/m/a/b/Add_output_0", "m.c": "/m/c/Relu_output_0"}


def test_fp32_onnx_and_tflite_match_pytorch_at_every_layer(bundle: Path) -> None:
    for variant in ("onnx-fp32", "tflite-fp32"):
        record = edgeship.debug(bundle, variant, samples=4)
        assert record.against == "pytorch"
        assert len(record.layers) >= 10, [layer.layer for layer in record.layers]
        assert min(layer.snr_db for layer in record.layers) >= FLOAT_SNR_DB, record.layers
        assert min(layer.cosine for layer in record.layers) > 0.9999
        assert record.first_jump is None and record.worst == []
        names = [layer.layer for layer in record.layers]
        assert "model.bert.encoder.layer.1.output.LayerNorm" in names  # PyTorch's own module paths
        assert names.index("model.bert.encoder.layer.0.output.LayerNorm") < names.index(
            "model.bert.encoder.layer.1.output.LayerNorm"
        )


def test_int8_error_is_measured_per_layer_recorded_plotted_and_reported(bundle: Path) -> None:
    result = run_cli("debug", str(bundle), "--variant", "onnx-int8-dynamic", "--samples", "8")
    assert result.returncode == 0, result.stderr
    assert "onnx-int8-dynamic against onnx-fp32 on local" in result.stdout
    assert "first jump:" in result.stdout
    manifest = Bundle.open(bundle).manifest
    (record,) = manifest.debug
    assert (record.variant, record.against, record.samples) == ("onnx-int8-dynamic", "onnx-fp32", 8)
    snrs = [layer.snr_db for layer in record.layers]
    assert len(snrs) >= 10 and max(snrs) < SNR_CEILING_DB and min(snrs) > 0  # quantized, yet close
    assert record.first_jump == record.layers[0].layer  # int8 error starts at the first quantized layer
    saved = json.loads((bundle / record.raw).read_text())
    assert [layer["snr_db"] for layer in saved["layers"]] == snrs
    assert (bundle / str(record.plot)).read_bytes().startswith(b"\x89PNG")
    assert run_cli("report", str(bundle)).returncode == 0
    report = (bundle / "report.md").read_text()
    assert "## Layer by layer" in report and "plots/layers-onnx-fp32-local.png" in report
    assert (bundle / "plots" / "layers-onnx-fp32-local.png").is_file()


def test_full_integer_tflite_shows_scales_and_clipping_and_lines_up_with_onnx(bundle: Path) -> None:
    record = edgeship.debug(bundle, "tflite-int8-static", samples=4)
    assert record.against == "tflite-fp32"
    quantized = [layer for layer in record.layers if layer.scale is not None]
    assert len(quantized) >= 8
    assert all(layer.scale > 0 and -128 <= layer.zero_point <= 127 for layer in quantized)
    assert all(0.0 <= layer.clipped_fraction <= 1.0 for layer in quantized)
    across = edgeship.debug(bundle, "tflite-int8-static", against="onnx-int8-dynamic", samples=4)
    assert "model.bert.encoder.1.output.LayerNorm" in [layer.layer for layer in across.layers]
    assert min(layer.snr_db for layer in across.layers) > 5  # two int8 schemes, two runtimes, one model


def test_a_corrupted_layer_is_named_as_the_first_jump(bundle: Path) -> None:
    """A variant whose layer-1 feed-forward weights are wrong: debug points at that layer, not earlier."""
    _install_variant_with_noisy_weights(
        bundle, "/model/bert/encoder/layer.1/intermediate/dense/MatMul_output_0"
    )
    record = edgeship.debug(bundle, "onnx-broken", against="onnx-fp32", samples=4)
    assert record.first_jump is not None and record.first_jump.startswith("model.bert.encoder.1.intermediate")
    before = record.layers[: [layer.layer for layer in record.layers].index(record.first_jump)]
    assert before and all(layer.snr_db >= SNR_CEILING_DB for layer in before)
    assert record.worst[0] == record.first_jump


def test_a_different_pytorch_model_is_refused(bundle: Path, bert_dir: Path, tmp_path: Path) -> None:
    """The same architecture and labels with another classifier: its layers would line up, its numbers lie."""
    import torch
    import transformers

    other = tmp_path / "retrained"
    model = transformers.AutoModelForSequenceClassification.from_pretrained(bert_dir)
    with torch.no_grad():
        model.classifier.weight.mul_(1.5)
    model.save_pretrained(other)
    transformers.AutoTokenizer.from_pretrained(bert_dir).save_pretrained(other)
    result = run_cli("debug", str(bundle), "--variant", "onnx-fp32", "--model", str(other))
    assert result.returncode == 1
    assert f"{other} is not the model {bundle} was exported from" in result.stderr
    assert "pass --model" in result.stderr


def test_bad_references_are_refused_in_one_line(bundle: Path) -> None:
    itself = run_cli("debug", str(bundle), "--variant", "onnx-fp32", "--against", "onnx-fp32")
    assert itself.returncode == 1 and "--against onnx-fp32 is the variant itself" in itself.stderr
    unknown = run_cli("debug", str(bundle), "--variant", "onnx-int8-dynamic", "--against", "onnx-fp16")
    assert unknown.returncode == 1 and "no variant 'onnx-fp16'" in unknown.stderr
    assert not (bundle / "debug").exists()


def _install_variant_with_noisy_weights(bundle: Path, matmul_output: str) -> None:
    """Add `onnx-broken`: onnx-fp32 with 30% noise on the weights of the MatMul producing `matmul_output`."""
    import onnx
    from onnx import numpy_helper

    opened = Bundle.open(bundle)
    source = opened.manifest.variant("onnx-fp32")
    assert source is not None
    model = onnx.load(str(bundle / source.file))
    node = next(n for n in model.graph.node if n.op_type == "MatMul" and n.output[0] == matmul_output)
    weight = next(init for init in model.graph.initializer if init.name == node.input[1])
    values = numpy_helper.to_array(weight)
    noisy = values + 0.3 * values.std() * np.random.default_rng(0).standard_normal(values.shape)
    weight.CopyFrom(numpy_helper.from_array(noisy.astype(np.float32), weight.name))
    staged = bundle / "broken.onnx"
    onnx.save(model, str(staged))
    with opened.update() as change:
        file = change.install(staged, "models/onnx-broken.onnx")[0]
        change.manifest.put_variant(
            source.model_copy(
                update={
                    "id": "onnx-broken",
                    "file": file,
                    "bytes": (bundle / file).stat().st_size,
                    "sha256": sha256_of(bundle / file),
                }
            )
        )


def test_a_conv_with_a_folded_batchnorm_is_not_compared_with_the_bare_conv(tmp_path: Path) -> None:
    """torch.onnx.export folds BatchNorm into the Conv: that Conv's output is not PyTorch's conv output."""
    import torch

    from edgeship.numerics.onnx_graph import onnx_module_outputs

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, bias=False)
            self.bn = torch.nn.BatchNorm2d(8)
            self.act = torch.nn.ReLU6()
            self.head = torch.nn.Conv2d(8, 4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.act(self.bn(self.conv(x))))

    path = tmp_path / "block.onnx"
    torch.onnx.export(Block().eval(), (torch.randn(1, 3, 8, 8),), str(path), dynamo=False)
    chosen, _ = onnx_module_outputs(path)
    assert "conv" not in chosen  # its tensor is conv + bn
    assert chosen["act"].startswith("/act/") and "head" in chosen  # a plain conv (named by its weights) stays


def test_requantizing_a_variant_drops_its_stale_layer_comparison(bundle: Path) -> None:
    record = edgeship.debug(bundle, "onnx-int8-dynamic", samples=2)
    assert (bundle / record.raw).is_file()
    edgeship.quantize(bundle, "int8-dynamic", format="onnx", activation_scales="block")
    assert Bundle.open(bundle).manifest.debug == []
    assert not (bundle / record.raw).exists()  # no longer listed, so removed with the update
