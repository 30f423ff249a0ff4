"""`edgeship quantize` on ONNX: each scheme on a tiny trained BERT, the accuracy-aware fallback, bad input."""

from __future__ import annotations

import csv
import random
import shutil
from collections import Counter
from pathlib import Path

import onnx
import pytest

from edgeship.bundle import Bundle, sha256_of
from edgeship.compress.quantize.spec import QuantizationOptions
from edgeship.errors import EdgeshipError
from edgeship.pipeline.quantize import quantize_bundle
from edgeship.sources.data import TextExamples
from tests.conftest import run_cli

GOOD = ["good", "great", "superb", "wonderful", "fine"]
BAD = ["bad", "awful", "boring", "dull", "poor"]
FILLER = ["film", "movie", "plot", "actor", "the", "a", "was"]
LABELS = ["negative", "positive"]


def synthetic_reviews(count: int, seed: int) -> TextExamples:
    """Sentiment words in filler; 30% carry one word of the other side, so the task is not trivial."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(count):
        positive = rng.random() < 0.5
        words = [rng.choice(FILLER) for _ in range(rng.randint(4, 20))]
        for _ in range(rng.randint(1, 2)):
            words.insert(rng.randrange(len(words)), rng.choice(GOOD if positive else BAD))
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), rng.choice(BAD if positive else GOOD))
        texts.append(" ".join(words))
        labels.append(int(positive))
    return TextExamples(texts, labels, LABELS, "synthetic")


def write_csv(examples: TextExamples, path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows((t, LABELS[y]) for t, y in zip(examples.texts, examples.labels, strict=True))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("quantize-data")
    return {
        "train": write_csv(synthetic_reviews(400, seed=0), root / "train.csv"),
        "test": write_csv(synthetic_reviews(300, seed=1), root / "test.csv"),
    }


@pytest.fixture(scope="module")
def fp32_bundle(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path, data: dict[str, Path]) -> Path:
    """A tiny BERT trained on the synthetic task, with one planted outlier weight in its pooler.

    The outlier makes per-tensor int8 of the pooler destroy it (every other weight rounds to zero), so
    the pooler is the one layer the accuracy-aware fallback must find and keep in float.
    """
    import torch
    import transformers

    from edgeship.compress.finetune import FineTuneOptions, fine_tune_text_classifier
    from edgeship.sources.data import load_labelled

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        num_labels=2,
        id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)},
    )
    model = transformers.BertForSequenceClassification(config)
    with torch.no_grad():
        model.bert.pooler.dense.weight[5, 7] = 40.0
    tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer_dir)
    train = load_labelled(data["train"], LABELS)
    options = FineTuneOptions(epochs=3, learning_rate=1e-3, batch_size=16, max_length=32)
    fine_tune_text_classifier(model, tokenizer, train, options, progress=False)
    model_dir = tmp_path_factory.mktemp("models") / "trained-bert"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    out = tmp_path_factory.mktemp("bundles") / "bert"
    assert run_cli("export", str(model_dir), "--out", str(out), "--max-length", "32").returncode == 0
    assert run_cli("eval", str(out), "--data", str(data["test"]), "--split", "test").returncode == 0
    return out


@pytest.fixture()
def bundle(fp32_bundle: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(fp32_bundle, copy)
    return copy


def op_counts(path: Path) -> Counter:
    return Counter(node.op_type for node in onnx.load(str(path)).graph.node)


def test_fp32_teacher_is_accurate(fp32_bundle: Path) -> None:
    assert Bundle.open(fp32_bundle).manifest.variants[0].accuracy >= 0.8


def test_three_schemes_in_one_call(bundle: Path, data: dict[str, Path]) -> None:
    result = run_cli(
        "quantize",
        str(bundle),
        "--scheme",
        "int8-dynamic,int8-static",
        "--scheme",
        "int4-weight",
        "--calibration-data",
        str(data["train"]),
        "--calibration-samples",
        "32",
        "--eval-data",
        str(data["test"]),
        "--eval-split",
        "test",
    )
    assert result.returncode == 0, result.stderr
    manifest = Bundle.open(bundle).manifest
    variants = {v.id: v for v in manifest.variants}
    assert list(variants) == ["onnx-fp32", "onnx-int8-dynamic", "onnx-int8-static", "onnx-int4-weight"]
    fp32 = variants["onnx-fp32"]
    for variant_id in ("onnx-int8-dynamic", "onnx-int8-static", "onnx-int4-weight"):
        variant = variants[variant_id]
        assert variant.source_variant == "onnx-fp32" and variant.produced_by.step == "quantize"
        assert variant.sha256 == sha256_of(bundle / variant.file)
        assert variant.parity.samples == 16 and variant.parity.max_abs_diff <= variant.parity.tolerance
        assert variant.evaluated_on.samples == 300 and variant.evaluated_on.split == "test"
        assert abs(variant.accuracy - fp32.accuracy) <= 0.02, (variant_id, variant.accuracy, fp32.accuracy)

    dynamic = op_counts(bundle / variants["onnx-int8-dynamic"].file)
    assert (
        dynamic["QAttention"] == 2
        and dynamic["MatMulInteger"] >= 6
        and dynamic["QEmbedLayerNormalization"] == 1
    )
    assert variants["onnx-int8-dynamic"].bytes <= 0.3 * fp32.bytes
    recorded = variants["onnx-int8-dynamic"].produced_by.options  # only what shaped this variant
    assert recorded["per_channel"] is True and not {"block_size", "calibration_method"} & set(recorded)

    static = op_counts(bundle / variants["onnx-int8-static"].file)
    assert static["QuantizeLinear"] > 0 and static["DequantizeLinear"] > 0
    assert variants["onnx-int8-static"].produced_by.options["calibration_batches"] == 32
    assert variants["onnx-int8-static"].bytes < fp32.bytes

    int4 = op_counts(bundle / variants["onnx-int4-weight"].file)
    assert int4["MatMulNBits"] == 8 and int4["MatMul"] == 0  # 6 MatMuls and 2 Attentions' packed QKV
    assert variants["onnx-int4-weight"].produced_by.options["block_size"] == 32
    assert variants["onnx-int4-weight"].bytes < fp32.bytes
    assert "onnx-int4-weight" in result.stdout


def test_a_relative_bundle_path_quantizes_and_leaves_the_working_directory_clean(bundle: Path) -> None:
    result = run_cli("quantize", "bundle", "--scheme", "int8-dynamic", cwd=bundle.parent)
    assert result.returncode == 0, result.stderr
    assert Bundle.open(bundle).manifest.variant("onnx-int8-dynamic") is not None
    assert sorted(p.name for p in bundle.parent.iterdir()) == ["bundle"]


def test_int4_quantized_weights_shrink_to_a_fifth(bundle: Path) -> None:
    assert run_cli("quantize", str(bundle), "--scheme", "int4-weight", "--block-size", "64").returncode == 0
    manifest = Bundle.open(bundle).manifest
    fp32 = onnx.load(str(bundle / manifest.variant("onnx-fp32").file))
    int4 = onnx.load(str(bundle / manifest.variant("onnx-int4-weight").file))
    matmul_weights = {n.input[1] for n in fp32.graph.node if n.op_type in ("MatMul", "Attention")}
    fp32_bytes = sum(len(i.raw_data) for i in fp32.graph.initializer if i.name in matmul_weights)
    nbits_inputs = {name for n in int4.graph.node if n.op_type == "MatMulNBits" for name in n.input[1:]}
    int4_bytes = sum(len(i.raw_data) for i in int4.graph.initializer if i.name in nbits_inputs)
    assert int4_bytes <= 0.20 * fp32_bytes


def test_int4_hqq_is_asymmetric_and_stays_accurate(bundle: Path, data: dict[str, Path]) -> None:
    result = run_cli(
        "quantize",
        str(bundle),
        "--scheme",
        "int4-weight",
        "--int4-algorithm",
        "hqq",
        "--block-size",
        "64",
        "--eval-data",
        str(data["test"]),
    )
    assert result.returncode == 0, result.stderr
    manifest = Bundle.open(bundle).manifest
    variant = manifest.variant("onnx-int4-weight")
    assert variant.produced_by.options["int4_algorithm"] == "hqq"
    nbits = [n for n in onnx.load(str(bundle / variant.file)).graph.node if n.op_type == "MatMulNBits"]
    assert len(nbits) == 8 and all(len(n.input) >= 4 for n in nbits)  # zero points present: asymmetric
    assert abs(variant.accuracy - manifest.variant("onnx-fp32").accuracy) <= 0.02


def test_fallback_keeps_the_sensitive_layer_float(bundle: Path, data: dict[str, Path]) -> None:
    args = [
        "quantize",
        str(bundle),
        "--scheme",
        "int8-dynamic",
        "--no-per-channel",
        "--eval-data",
        str(data["test"]),
    ]
    plain = run_cli(*args)
    assert plain.returncode == 0, plain.stderr
    manifest = Bundle.open(bundle).manifest
    fp32_accuracy = manifest.variant("onnx-fp32").accuracy
    assert manifest.variant("onnx-int8-dynamic").accuracy < fp32_accuracy - 0.2  # the planted outlier bites

    guarded = run_cli(*args, "--max-accuracy-drop", "1.0")
    assert guarded.returncode == 0, guarded.stderr
    variant = Bundle.open(bundle).manifest.variant("onnx-int8-dynamic")
    assert variant.kept_float == ["/model/bert/pooler/dense/Gemm"]
    assert (fp32_accuracy - variant.accuracy) * 100 <= 1.0
    assert "Most sensitive to int8-dynamic: /model/bert/pooler/dense/Gemm" in guarded.stderr.replace("\n", "")


def test_agreement_budget_also_drives_the_fallback(bundle: Path, data: dict[str, Path]) -> None:
    result = run_cli(
        "quantize",
        str(bundle),
        "--scheme",
        "int8-dynamic",
        "--no-per-channel",
        "--eval-data",
        str(data["test"]),
        "--min-agreement",
        "0.99",
    )
    assert result.returncode == 0, result.stderr
    variant = Bundle.open(bundle).manifest.variant("onnx-int8-dynamic")
    assert variant.kept_float == ["/model/bert/pooler/dense/Gemm"]
    assert variant.eval_agreement >= 0.99


def test_a_budget_that_cannot_be_met_fails_and_adds_nothing(bundle: Path, data: dict[str, Path]) -> None:
    specs = QuantizationOptions().specs(["int8-dynamic"])
    with pytest.raises(
        EdgeshipError,
        match=r"cannot stay within -1.0 accuracy points of fp32: kept 1 to (\d+) of the \1 layers it quantizes float",
    ):
        quantize_bundle(bundle, specs, eval_data=data["test"], max_accuracy_drop=-1.0)
    assert [v.id for v in Bundle.open(bundle).manifest.variants] == ["onnx-fp32"]
    assert sorted(p.name for p in (bundle / "models").iterdir()) == ["onnx-fp32.onnx"]
    assert not list(bundle.glob(".staging-*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--scheme", "int3"],
            "--scheme: unknown scheme 'int3' (choose from: fp16, int4-weight, int8-dynamic, int8-static)",
        ),
        (["--scheme", "int8-static"], "int8-static needs calibration samples"),
        (
            ["--scheme", "int4-weight", "--int4-algorithm", "gptq"],
            "int4-weight with --int4-algorithm gptq needs calibration samples",
        ),
        (["--scheme", "int4-weight", "--block-size", "48"], "--block-size: Input should be 32, 64 or 128"),
        (["--scheme", "int4-weight", "--block-size", "128"], "block size 128 does not divide layer"),
        (["--scheme", "fp16"], "scheme 'fp16' is not supported for onnx"),
        (
            ["--scheme", "int8-dynamic", "--max-accuracy-drop", "1"],
            "--max-accuracy-drop and --min-agreement need --eval-data",
        ),
        (
            ["--scheme", "int8-dynamic", "--keep-float", "nope"],
            "keep_float names layers that are not in the graph",
        ),
        (["--scheme", "int8-dynamic", "--format", "tensorrt"], "has no variant 'tensorrt-fp32'"),
        (
            ["--scheme", "int8-dynamic", "--block-size", "64"],
            "--block-size applies to int4-weight, not int8-dynamic",
        ),
        (
            ["--scheme", "int8-dynamic,int4-weight", "--calibration-method", "entropy"],
            "--calibration-method applies to int8-static, not int8-dynamic, int4-weight",
        ),
        (
            ["--scheme", "int8-dynamic", "--max-accuracy-drop", "-1"],
            "--max-accuracy-drop: Input should be greater",
        ),
    ],
)
def test_bad_input_is_named_and_adds_nothing(bundle: Path, args: list[str], message: str) -> None:
    result = run_cli("quantize", str(bundle), *args)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr.splitlines()[-1]
    assert [v.id for v in Bundle.open(bundle).manifest.variants] == ["onnx-fp32"]


def test_quantizing_a_quantized_variant_is_refused(bundle: Path) -> None:
    assert run_cli("quantize", str(bundle), "--scheme", "int8-dynamic").returncode == 0
    result = run_cli("quantize", str(bundle), "--scheme", "int4-weight", "--from", "onnx-int8-dynamic")
    assert result.returncode == 1 and "already quantized (int8-dynamic)" in result.stderr


def test_calibration_data_of_the_wrong_kind(bundle: Path, image_folder: Path) -> None:
    result = run_cli(
        "quantize", str(bundle), "--scheme", "int8-static", "--calibration-data", str(image_folder)
    )
    assert result.returncode == 1 and "is a text model" in result.stderr


def test_calibration_data_can_be_a_bundled_dataset(bundle: Path) -> None:
    """`rotten_tomatoes` is a dataset name, as in recipes and `distill`, not a missing file of texts."""
    result = run_cli(
        "quantize", str(bundle), "--scheme", "int8-static", "--calibration-data", "rotten_tomatoes",
        "--calibration-samples", "8",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    static = Bundle.open(bundle).manifest.variant("onnx-int8-static")
    assert static.produced_by.options["calibration_batches"] == 8


def _pad_same(x, kernel: int, stride: int):  # noqa: ANN001, ANN202 - timm's pad_same (Conv2dSame, tf_ models)
    import torch
    import torch.nn.functional as F

    ih, iw = x.size()[-2:]  # tensors while tracing: the pads become Shape arithmetic, as timm's do
    pad_h = torch.clamp(((ih / stride).ceil() - 1) * stride + kernel - ih, min=0)
    pad_w = torch.clamp(((iw / stride).ceil() - 1) * stride + kernel - iw, min=0)
    return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


def _same_padding_cnn(path: Path, channel_spread: float = 1.0, size: int = 64) -> Path:
    """A stem, a depthwise and a pointwise conv with TF "same" padding exported as Shape arithmetic and Pad,
    as timm's tf_efficientnet_lite0 exports. `channel_spread`: the stem's output channels' weights span that
    ratio (batch norm folded on near-constant channels), undone by a float scale after it."""
    import torch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.stem = torch.nn.Conv2d(3, 16, 3, stride=2)
            self.dw = torch.nn.Conv2d(16, 16, 5, stride=2, groups=16)
            self.pw = torch.nn.Conv2d(16, 24, 1)
            self.head = torch.nn.Linear(24, 4)
            spread = torch.logspace(0, -torch.log10(torch.tensor(channel_spread)).item(), 16)
            with torch.no_grad():
                self.stem.weight.mul_(spread.view(-1, 1, 1, 1))
                self.stem.bias.mul_(spread)
            self.register_buffer("unscale", (1 / spread).view(1, -1, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.stem(_pad_same(x, 3, 2)) * self.unscale
            x = torch.clamp(x, 0, 6)
            x = torch.clamp(self.dw(_pad_same(x, 5, 2)), 0, 6)
            return self.head(self.pw(x).mean((2, 3)))

    torch.onnx.export(
        Net().eval(),
        (torch.randn(1, 3, size, size),),
        str(path),
        input_names=["pixel_values"],
        output_names=["logits"],
        dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return path


def _relative_error(reference: Path, quantized: Path, inputs) -> float:  # noqa: ANN001
    import numpy as np
    import onnxruntime

    def run(path: Path):  # noqa: ANN202
        return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
            None, {"pixel_values": inputs}
        )[0]

    expected, got = run(reference), run(quantized)
    assert got.shape == expected.shape
    return float(np.linalg.norm(got - expected) / np.linalg.norm(expected))


@pytest.mark.parametrize(("scheme", "spread"), [("int8-dynamic", 1000.0), ("int8-static", 1.0)])
def test_int8_keeps_a_same_padding_cnn_close_to_fp32(tmp_path: Path, scheme: str, spread: float) -> None:
    """Before the fix: dynamic ConvInteger had one weight scale per tensor (the stem's small channels
    rounded to zero: 3% error here against 0.3%), the pads stayed Shape arithmetic that int8-static
    quantized (Lite0's pads came out off by one pixel); both lost ~55 points of Lite0's accuracy."""
    import numpy as np

    from edgeship.compress.quantize.onnx_backend import OnnxQuantizer, saturating_x86_host
    from edgeship.compress.quantize.spec import QuantizationSpec

    source = _same_padding_cnn(tmp_path / "cnn.onnx", spread)
    rng = np.random.default_rng(0)
    calibration = [{"pixel_values": rng.uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32)} for _ in range(16)]
    destination = tmp_path / "int8.onnx"
    result = OnnxQuantizer().quantize(
        source, destination, QuantizationSpec(scheme=scheme), calibration if scheme == "int8-static" else None
    )
    assert result.options["pads_folded_into_convs"] == 2
    ops = op_counts(destination)
    assert "Pad" not in ops and "Shape" not in ops
    assert ops["ConvInteger" if scheme == "int8-dynamic" else "Conv"] == 3
    # 7-bit weights where u8 x s8 int16 sums saturate (AVX2 without VNNI): Lite0 int8-static 81.25% -> 86.15%
    assert result.options["reduce_range"] == saturating_x86_host()
    inputs = rng.uniform(-1, 1, (8, 3, 64, 64)).astype(np.float32)
    assert _relative_error(source, destination, inputs) < 0.01  # both ~0.35%


def test_conv_layers_can_be_kept_float(tmp_path: Path) -> None:
    from edgeship.compress.quantize.onnx_backend import OnnxQuantizer
    from edgeship.compress.quantize.spec import QuantizationSpec

    source = _same_padding_cnn(tmp_path / "cnn.onnx")
    quantizer = OnnxQuantizer()
    layers = quantizer.layers(source)
    convs = [node.name for node in onnx.load(str(source)).graph.node if node.op_type == "Conv"]
    assert len(convs) == 3 and set(convs) < set(layers)
    destination = tmp_path / "int8.onnx"
    quantizer.quantize(
        source, destination, QuantizationSpec(scheme="int8-dynamic", keep_float=(convs[1],)), None
    )
    ops = op_counts(destination)
    assert ops["ConvInteger"] == 2 and ops["Conv"] == 1
