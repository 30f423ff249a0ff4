"""docs/extending.md, proven: a scheme and a task declared in one place (this file, as a contributor's new
`*_scheme.py` / `*_task.py` would) run through export, quantize and eval with nothing else changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edgeship
from edgeship.compress.quantize.registry import SCHEME_HANDLERS, register_scheme_handler
from edgeship.compress.quantize.spec import SCHEMES, QuantizationSpec, Scheme, register_scheme
from edgeship.errors import EdgeshipError
from edgeship.pipeline.features import encode_examples, load_examples, predict_logits
from edgeship.runtimes.base import open_session
from edgeship.tasks.base import TASKS, register_task
from edgeship.tasks.text_classification_task import TextClassification

# --- the contributor's file: one scheme with its ONNX handler, one task ---

INT8_MATMUL = Scheme(
    id="int8-matmul",
    summary="int8 weights on MatMul only (attention and embeddings stay float)",
    options=("per_channel",),
    tolerance=0.5,
)


def quantize_matmuls(
    source: Path, destination: Path, spec: QuantizationSpec, calibration: Any
) -> dict[str, Any]:
    """ONNX Runtime's dynamic quantizer restricted to MatMul."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(destination),
        op_types_to_quantize=["MatMul"],
        per_channel=spec.per_channel,
        weight_type=QuantType.QInt8,
    )
    return {"op_types": ["MatMul"]}


class MacroF1TextClassification(TextClassification):
    """Text classification scored by macro-averaged F1 instead of accuracy."""

    id = "text-classification-f1"
    metric = "macro-f1"

    def score(self, outputs: np.ndarray, labels: np.ndarray) -> float:
        """Mean over labels of 2PR / (P + R); a label never predicted nor present counts as 0."""
        predicted = self.predictions(outputs)
        scores = []
        for label in range(outputs.shape[-1]):
            true_positive = np.sum((predicted == label) & (labels == label))
            denominator = np.sum(predicted == label) + np.sum(labels == label)
            scores.append(2 * true_positive / denominator if denominator else 0.0)
        return float(np.mean(scores))


# --- the test ---


@pytest.fixture()
def plugin() -> Iterator[None]:
    """Register the scheme, its handler and the task; forget them afterwards."""
    register_scheme(INT8_MATMUL)
    register_scheme_handler("onnx", INT8_MATMUL.id)(quantize_matmuls)
    register_task(MacroF1TextClassification)
    try:
        yield
    finally:
        SCHEMES.remove(INT8_MATMUL.id)
        SCHEME_HANDLERS.pop(("onnx", INT8_MATMUL.id))
        TASKS.remove(MacroF1TextClassification.id)


def test_a_new_scheme_and_task_run_through_export_quantize_and_eval(
    plugin: None, tmp_path: Path, bert_dir: Path, text_csv: Path
) -> None:
    bundle = edgeship.export(str(bert_dir), tmp_path / "b", task="text-classification-f1", optimize=False)
    assert bundle.manifest.source.task == "text-classification-f1"

    (variant,) = edgeship.quantize(bundle.root, "int8-matmul", eval_data=text_csv, max_accuracy_drop=100)
    assert variant.id == "onnx-int8-matmul" and variant.precision == "int8-matmul"
    assert variant.produced_by.options == {
        "scheme": "int8-matmul",
        "per_channel": True,
        "keep_float": [],
        "op_types": ["MatMul"],
    }
    assert variant.graph is not None and variant.graph.quantized_ops.get("MatMulInteger", 0) > 0
    assert variant.parity is not None and variant.parity.tolerance == INT8_MATMUL.tolerance

    scores = edgeship.evaluate(bundle.root, text_csv)
    opened = edgeship.Bundle.open(bundle.root)
    fp32 = opened.manifest.variant("onnx-fp32")
    assert fp32 is not None and fp32.evaluated_on is not None and fp32.evaluated_on.metric == "macro-f1"
    encoded = encode_examples(opened, load_examples(opened, text_csv))
    outputs = predict_logits(open_session(opened.path(fp32.file), "onnx"), encoded)
    task = MacroF1TextClassification()
    assert scores["onnx-fp32"] == pytest.approx(task.score(outputs, encoded.labels))
    assert fp32.accuracy == pytest.approx(scores["onnx-fp32"])

    with pytest.raises(EdgeshipError, match="--block-size applies to int4-weight, not int8-matmul"):
        edgeship.quantize(bundle.root, "int8-matmul", block_size=64)


def test_without_the_plugin_the_names_are_unknown(tmp_path: Path) -> None:
    with pytest.raises(EdgeshipError, match="unknown scheme 'int8-matmul'"):
        edgeship.quantize(tmp_path, "int8-matmul")
    with pytest.raises(EdgeshipError, match="--task: unknown task 'text-classification-f1'"):
        edgeship.export("some/model", tmp_path / "b", task="text-classification-f1")
