"""Distilling a sentence encoder (feature-extraction): a base-model student learns the teacher's embeddings
from unlabelled text, is scored by Spearman, resumes from a checkpoint and exports as an embedding bundle."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeship.bundle import Bundle
from edgeship.compress.distill.batches import held_out_score, sentence_embeddings
from edgeship.compress.distill.checkpoint import checkpoints
from edgeship.compress.distill.registry import StudentOptions, build_student
from edgeship.compress.distill.trainer import TrainOptions, distill
from edgeship.errors import DataError, DistillError
from edgeship.pipeline.distill import DistillOptions, distill_to_bundle
from edgeship.pipeline.evaluate import evaluate_bundle
from edgeship.sources.data import SimilarityExamples
from edgeship.sources.loading import LoadedModel, load_model
from tests.conftest import run_cli

TOPICS = {
    "sport": ["the team won the match", "a late goal decided the final", "the striker scored twice"],
    "weather": ["heavy rain is expected", "the storm brought strong winds", "a sunny and warm afternoon"],
    "money": ["the bank raised interest rates", "shares fell on the market", "inflation rose again"],
}


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    """A 4-layer, 64-wide BertModel (random weights) with the MiniLM tokenizer: a tiny sentence encoder.

    Weights drawn 10x wider than BERT's default, so texts get distinct embeddings (at 0.02 every text's is
    within 0.03 of the others' and there is nothing to learn)."""
    import transformers

    config = transformers.BertConfig(
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=128,
        initializer_range=0.2,
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("encoder") / "bert4-encoder"
    transformers.BertModel(config).save_pretrained(path)
    transformers.AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def teacher(teacher_dir: Path) -> LoadedModel:
    return load_model(str(teacher_dir))


def sentences(count: int) -> list[str]:
    """`count` distinct sentences mixing the topics' phrases."""
    phrases = [p for group in TOPICS.values() for p in group]
    return [f"{phrases[i % 9]} and {phrases[(i * 4 + 1) % 9]} on day {i}" for i in range(count)]


def scored_pairs() -> SimilarityExamples:
    """The topic phrases, every pair scored 1 within a topic and 0 across topics."""
    texts = [p for group in TOPICS.values() for p in group]
    pairs = [(i, j, float(i // 3 == j // 3)) for i in range(9) for j in range(i + 1, 9)]
    return SimilarityExamples(texts=texts, pairs=pairs, name="topics")


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def mean_cosine(student: torch.nn.Module, teacher: LoadedModel, texts: SimilarityExamples) -> float:
    ours = sentence_embeddings(student, texts, teacher, 32)
    theirs = sentence_embeddings(teacher.model, texts, teacher, 32)
    return float(np.mean(np.sum(ours * theirs, axis=-1)))


def test_student_is_the_teachers_base_model_and_learns_its_embeddings(teacher: LoadedModel) -> None:
    assert teacher.task == "feature-extraction" and teacher.pooling == "mean"
    student = build_student("distilbert", teacher, StudentOptions())
    assert type(student.model).__name__ == "BertModel" and student.model.config.num_hidden_layers == 2
    assert (student.losses.soft, student.losses.hard, student.losses.embedding) == (0.0, 0.0, 1.0)
    train = SimilarityExamples(texts=sentences(64), pairs=[], name="unlabelled")
    held_out = SimilarityExamples(texts=sentences(96)[64:], pairs=[], name="held-out")
    before = mean_cosine(student.model, teacher, held_out)
    result = distill(
        teacher,
        student,
        student.losses.with_overrides(hidden=0.0),
        train,
        scored_pairs(),
        TrainOptions(epochs=3, batch_size=16, learning_rate=1e-3, warmup_ratio=0.0, max_length=32),
        fingerprint="embeddings",
        progress=False,
    )
    first, last = result.history[0], result.history[-1]
    assert result.steps == 12 and set(first) == {"step", "loss", "embedding"}
    assert last["loss"] < 0.5 * first["loss"], (first, last)
    after = mean_cosine(student.model, teacher, held_out)
    assert after > before + 0.4 and after > 0.75, (before, after)
    assert result.eval_metric == "spearman" and len(result.eval_scores) == 3
    assert result.eval_scores[-1] == pytest.approx(
        held_out_score(student.model, "transformers", scored_pairs(), teacher, 32)
    )
    assert -1.0 <= result.eval_scores[-1] <= 1.0


def test_a_narrower_student_or_a_label_option_is_refused(teacher: LoadedModel, tmp_path: Path) -> None:
    with pytest.raises(DistillError, match="keep the teacher's width 64"):
        build_student("tinybert", teacher, StudentOptions(hidden_size=32, layers=2))
    texts = write_csv(tmp_path / "texts.csv", ["text"], [[t] for t in sentences(32)])
    options = DistillOptions(epochs=1, max_length=32)
    odd = write_csv(tmp_path / "odd.csv", ["a", "b"], [[1, 2]])
    cases = [  # (error, its message, the format its hint names, data, eval data, options)
        (DistillError, "--alpha weigh soft and hard", "text column", texts, None, {"alpha": 0.5}),
        (DataError, "student reads texts", "scored-pairs", odd, None, {}),
        (DataError, "reads scored text pairs", "text1", texts, texts, {}),
    ]
    for error, message, expected, data, eval_data, changed in cases:
        with pytest.raises(error, match=message) as raised:
            distill_to_bundle(
                str(teacher.source),
                data,
                tmp_path / "never",
                options.model_copy(update=changed),
                eval_data=eval_data,
                progress=False,
            )
        assert expected in raised.value.hint
    assert not (tmp_path / "never").exists()


def test_resume_from_a_checkpoint_matches_an_uninterrupted_run(teacher: LoadedModel, tmp_path: Path) -> None:
    train = SimilarityExamples(texts=sentences(32), pairs=[], name="unlabelled")
    options = TrainOptions(epochs=2, batch_size=8, learning_rate=5e-4, max_length=32, checkpoint_every=3)

    def run(resume: Path | None) -> dict[str, torch.Tensor]:
        student = build_student("distilbert", teacher, StudentOptions())
        distill(
            teacher,
            student,
            student.losses,
            train,
            None,
            options,
            fingerprint="resume",
            checkpoint_dir=tmp_path / ("resumed" if resume else "first"),
            resume=resume,
            progress=False,
        )
        return {k: v.detach().clone() for k, v in student.model.state_dict().items()}

    uninterrupted = run(None)
    saved = checkpoints(tmp_path / "first")
    assert [p.name for p in saved] == ["step-0000003", "step-0000006"]
    resumed = run(saved[0])
    worst = max(float((uninterrupted[k] - resumed[k]).abs().max()) for k in uninterrupted)
    assert worst < 1e-5, worst


def test_cli_writes_an_embedding_bundle_that_eval_scores(teacher_dir: Path, tmp_path: Path) -> None:
    pairs = scored_pairs()
    pairs_csv = write_csv(
        tmp_path / "pairs.csv",
        ["text1", "text2", "score"],
        [[pairs.texts[a], pairs.texts[b], s] for a, b, s in pairs.pairs],
    )
    corpus = write_csv(tmp_path / "corpus.csv", ["text"], [[t] for t in sentences(40)])
    out = tmp_path / "student"
    args = ["distill", "--teacher", str(teacher_dir), "--max-length", "32", "--data", str(corpus)]
    result = run_cli(*args, "--out", str(out), "--eval-data", str(pairs_csv), "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert "eval spearman" in result.stdout
    manifest = Bundle.open(out).manifest
    assert (manifest.source.task, manifest.source.pooling, manifest.source.role) == (
        "feature-extraction",
        "mean",
        "student",
    )
    assert [o.name for o in manifest.outputs] == ["sentence_embedding"]
    assert manifest.source.architecture == "BertModel" and (out / "student" / "1_Pooling").is_dir()
    record = json.loads((out / "distill.json").read_text())
    assert record["eval_metric"] == "spearman" and len(record["eval_scores"]) == 1
    assert record["train_samples"] == 40 and "eval_accuracy" not in record
    scores = evaluate_bundle(out, pairs_csv)
    assert set(scores) == {"onnx-fp32"} and scores["onnx-fp32"] == pytest.approx(
        record["eval_scores"][-1], abs=1e-3
    )
    # a classifier's labelled-only option is refused in one line that says what --data takes
    refused = run_cli(*args, "--out", str(tmp_path / "never"), "--temperature", "3")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2 and "--temperature" in refused.stderr and "text column" in refused.stderr
