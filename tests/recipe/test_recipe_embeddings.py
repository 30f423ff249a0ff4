"""A feature-extraction recipe: a sentence encoder shipped as it is, scored on human-rated pairs, quantized,
distilled into a student of its embeddings, benchmarked and reported, with refusals of what cannot apply."""

from __future__ import annotations

import csv
from pathlib import Path

from edgeship.bundle import Bundle
from tests.conftest import run_cli

RECIPE = """\
name: tiny-embed
teacher:
  model: {model}
  task: feature-extraction
data:
  train: {texts}
  eval: {pairs}
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
  batch_size: 8
devices:
  - name: local
    runs: 2
    warmup: 1
"""
WORDS = ["cat", "dog", "stock", "market", "guitar", "music", "rain", "storm", "bread", "cake"]


def _data(tmp_path: Path) -> tuple[Path, Path]:
    texts, pairs = tmp_path / "texts.csv", tmp_path / "pairs.csv"
    with texts.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text"])
        writer.writerows([f"the {a} and the {b}"] for a in WORDS for b in WORDS)
    with pairs.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text1", "text2", "score"])
        for i, word in enumerate(WORDS):
            writer.writerow([f"a {word}", f"the {word}", 1.0])
            writer.writerow([f"a {word}", f"the {WORDS[(i + 3) % len(WORDS)]}", 0.0])
    return texts, pairs


def test_an_embedding_recipe_runs_from_teacher_to_student(tmp_path: Path, encoder_dir: Path) -> None:
    texts, pairs = _data(tmp_path)
    recipe = tmp_path / "embed.yaml"
    recipe.write_text(RECIPE.format(model=encoder_dir, texts=texts, pairs=pairs))
    out = tmp_path / "out"
    result = run_cli("run", str(recipe), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]

    teacher, student = Bundle.open(out / "tiny-embed"), Bundle.open(out / "tiny-embed-student")
    for bundle in (teacher, student):
        manifest = bundle.manifest
        assert manifest.source.task == "feature-extraction"
        assert [t.name for t in manifest.outputs] == ["sentence_embedding"]
        assert [v.id for v in manifest.variants] == ["onnx-fp32", "onnx-int8-dynamic"]
        for variant in manifest.variants:
            assert variant.evaluated_on is not None and variant.evaluated_on.metric == "spearman"
            assert variant.evaluated_on.samples == 20  # the distinct texts of the 20 pairs
            assert variant.accuracy is not None and -1.0 <= variant.accuracy <= 1.0
        assert sorted(b.variant for b in manifest.benchmarks) == ["onnx-fp32", "onnx-int8-dynamic"]
    assert student.manifest.source.role == "student"
    assert "spearman" in (out / "tiny-embed" / "report.md").read_text()


def test_an_embedding_recipe_needs_scored_pairs_and_no_fine_tuning(tmp_path: Path, encoder_dir: Path) -> None:
    texts, pairs = _data(tmp_path)
    no_eval = RECIPE.format(model=encoder_dir, texts=texts, pairs=pairs).replace(f"  eval: {pairs}\n", "")
    recipe = tmp_path / "no-eval.yaml"
    recipe.write_text(no_eval)
    result = run_cli("run", str(recipe), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert (
        "data.eval is missing: a feature-extraction recipe is scored on human-rated text pairs"
        in result.stderr
    )

    fine_tuned = RECIPE.format(model=encoder_dir, texts=texts, pairs=pairs).replace(
        "  task: feature-extraction\n", "  task: feature-extraction\n  fine_tune:\n    epochs: 1\n"
    )
    recipe.write_text(fine_tuned)
    result = run_cli("run", str(recipe), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "teacher.fine_tune adds a classification head, but teacher.task is feature-extraction" in (
        result.stderr
    )
    assert not (tmp_path / "out" / "tiny-embed").exists()
