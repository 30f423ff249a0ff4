"""A token-classification recipe: a tag head fine-tuned on tagged words, exported, quantized, distilled into
a student that keeps the head, scored by entity F1, benchmarked and reported."""

from __future__ import annotations

from pathlib import Path

from edgeship.bundle import Bundle
from tests.conftest import run_cli, write_tagged_jsonl

RECIPE = """\
name: tiny-ner
teacher:
  model: {model}
  task: token-classification
  fine_tune:
    epochs: 1
    batch_size: 16
data:
  train: {train}
  eval: {eval}
export:
  max_length: 16
  parity_samples: 4
quantize:
  schemes:
    onnx: [int8-dynamic]
student:
  family: distilbert
  layers: 1
  epochs: 1
  batch_size: 16
devices:
  - name: local
    runs: 2
    warmup: 1
"""


def test_a_ner_recipe_runs_from_fine_tuning_to_student(tmp_path: Path, tagger_dir: Path) -> None:
    train = write_tagged_jsonl(tmp_path / "train.jsonl", 96, seed=0)
    held_out = write_tagged_jsonl(tmp_path / "eval.jsonl", 24, seed=1)
    recipe = tmp_path / "ner.yaml"
    recipe.write_text(RECIPE.format(model=tagger_dir, train=train, eval=held_out))
    out = tmp_path / "out"
    result = run_cli("run", str(recipe), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]

    teacher, student = Bundle.open(out / "tiny-ner"), Bundle.open(out / "tiny-ner-student")
    # the data's own tags (no MISC in it): the 9-tag head of tagger_dir is replaced by a 7-tag one
    tags = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    for bundle in (teacher, student):
        manifest = bundle.manifest
        assert manifest.source.task == "token-classification" and manifest.source.labels == tags
        assert [t.shape for t in manifest.outputs] == [["batch", "sequence", len(tags)]]
        assert [v.id for v in manifest.variants] == ["onnx-fp32", "onnx-int8-dynamic"]
        for variant in manifest.variants:
            assert variant.evaluated_on is not None and variant.evaluated_on.metric == "f1"
            assert variant.evaluated_on.samples == 24
            assert variant.accuracy is not None and 0.0 <= variant.accuracy <= 1.0
        assert sorted(b.variant for b in manifest.benchmarks) == ["onnx-fp32", "onnx-int8-dynamic"]
    assert student.manifest.source.role == "student"
    assert student.manifest.source.architecture == "BertForTokenClassification"
    assert "f1" in (out / "tiny-ner" / "report.md").read_text()
