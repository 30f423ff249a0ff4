"""Distilling a token classifier (NER): the student keeps the teacher's tag head, the per-token loss ignores
padding, the student learns, other data shapes are refused, and the bundle reports entity F1."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from edgeship.bundle import Bundle
from edgeship.compress.distill.batches import held_out_score
from edgeship.compress.distill.losses import DistillationLoss, Outputs
from edgeship.compress.distill.registry import StudentOptions, build_student
from edgeship.compress.distill.trainer import TrainOptions, distill
from edgeship.compress.distill.weights import LossWeights
from edgeship.errors import DataError
from edgeship.pipeline.distill import DistillOptions, distill_to_bundle, load_tagged_words
from edgeship.pipeline.evaluate import evaluate_bundle
from edgeship.sources.data import SimilarityExamples, TaggedExamples, TextExamples
from edgeship.sources.loading import LoadedModel, load_model
from edgeship.sources.silver_ner import TAGS
from tests.conftest import run_cli

PEOPLE = ["John Smith", "Mary Jones", "Ahmed Khan", "Li Wei", "Sara Cohen", "Tom Brown"]
PLACES = ["Paris", "Sydney", "New York", "Cairo", "Berlin", "Lima"]
GROUPS = ["Reuters", "the United Nations", "Qantas", "Microsoft", "the Red Cross", "NASA"]
FILLER = ["today", "on Monday", "last week", "again", "at noon", "this year"]


def entity(words: str, kind: str) -> list[tuple[str, str]]:
    """An entity's words with their IOB2 tags (a leading 'the' is outside it)."""
    pieces = words.split()
    tagged: list[tuple[str, str]] = []
    if pieces[0] == "the":
        tagged.append(("the", "O"))
        pieces = pieces[1:]
    tagged += [(word, f"{'B' if i == 0 else 'I'}-{kind}") for i, word in enumerate(pieces)]
    return tagged


def tagged_sentences(count: int, offset: int = 0) -> TaggedExamples:
    """`count` templated news sentences with people, places and organisations tagged IOB2."""
    words, tags = [], []
    for n in range(offset, offset + count):
        person, place, group = PEOPLE[n % 6], PLACES[(n * 5 + 1) % 6], GROUPS[(n * 7 + 2) % 6]
        sentence = [
            *entity(person, "PER"),
            ("met", "O"),
            *entity(group, "ORG"),
            ("in", "O"),
            *entity(place, "LOC"),
            *[(word, "O") for word in FILLER[n % 6].split()],
        ]
        words.append([word for word, _ in sentence])
        tags.append([TAGS.index(tag) for _, tag in sentence])
    return TaggedExamples(words=words, tags=tags, label_names=TAGS, name="news")


def write_jsonl(path: Path, examples: TaggedExamples) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for words, tags in zip(examples.words, examples.tags, strict=True):
            handle.write(json.dumps({"tokens": words, "ner_tags": [TAGS[t] for t in tags]}) + "\n")
    return path


@pytest.fixture(scope="module")
def teacher(tagger_dir: Path) -> LoadedModel:
    return load_model(str(tagger_dir))


def test_students_keep_the_teachers_tag_head(teacher: LoadedModel) -> None:
    assert teacher.task == "token-classification" and teacher.labels == TAGS
    for family, layers in (("distilbert", 1), ("tinybert", 2)):
        student = build_student(family, teacher, StudentOptions(layers=layers, hidden_size=None))
        model = student.model
        assert type(model).__name__ == "BertForTokenClassification", family
        assert model.config.num_hidden_layers == layers and model.config.id2label == dict(enumerate(TAGS))
        assert student.losses.embedding == 0.0 and student.losses.soft > 0.0


def test_the_loss_ignores_padding() -> None:
    """Logits at a padded position (student's or teacher's) and its label change nothing; a real one does."""
    torch.manual_seed(0)
    weights = LossWeights(soft=0.5, hard=0.5, hidden=1.0, temperature=2.0)
    loss = DistillationLoss(weights, layer_map=[0, 1], student_width=8, teacher_width=8)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    labels = torch.tensor([[-100, 0, 3, 4, -100, -100], [-100, 1, 2, -100, -100, -100]])

    def outputs() -> Outputs:
        return Outputs(torch.randn(2, 6, 9), tuple(torch.randn(2, 6, 8) for _ in range(2)))

    student, teacher = outputs(), outputs()
    base, terms = loss(student, teacher, labels, mask)
    assert set(terms) == {"soft", "hard", "hidden"} and all(v > 0 for v in terms.values())
    changed_student = Outputs(student.output.clone(), tuple(h.clone() for h in student.hidden_states))
    changed_student.output[1, 4:, 3] += 5.0
    changed_student.hidden_states[1][1, 5] -= 3.0
    changed_teacher = Outputs(teacher.output.clone(), teacher.hidden_states)
    changed_teacher.output[1, 5] *= -4.0
    for pair in [(changed_student, teacher), (student, changed_teacher)]:
        again, _ = loss(*pair, labels, mask)
        assert float(again) == pytest.approx(float(base), abs=1e-6)
    real = Outputs(student.output.clone(), student.hidden_states)
    real.output[1, 2, 3] += 5.0
    assert float(loss(real, teacher, labels, mask)[0]) != pytest.approx(float(base), abs=1e-3)
    # a batch whose words were all cut off has no hard term to take, and no NaN
    nothing, _ = loss(student, teacher, torch.full_like(labels, -100), mask)
    assert torch.isfinite(nothing)


def test_the_student_learns_the_tags(teacher: LoadedModel) -> None:
    student = build_student("distilbert", teacher, StudentOptions(layers=1))
    train, held_out = tagged_sentences(48), tagged_sentences(16, offset=48)
    before = held_out_score(student.model, "transformers", held_out, teacher, 32)
    result = distill(
        teacher,
        student,
        student.losses.with_overrides(soft=0.2, hard=0.8),
        train,
        held_out,
        TrainOptions(epochs=4, batch_size=8, learning_rate=2e-3, warmup_ratio=0.0, max_length=32),
        fingerprint="tokens",
        progress=False,
    )
    first, last = result.history[0], result.history[-1]
    assert result.steps == 24 and set(first) == {"step", "loss", "soft", "hard", "hidden"}
    assert last["hard"] < 0.5 * first["hard"], (first, last)
    assert result.eval_metric == "f1" and len(result.eval_scores) == 4
    assert result.eval_scores[-1] > before + 0.3, (before, result.eval_scores)
    assert result.eval_scores[-1] == pytest.approx(
        held_out_score(student.model, "transformers", held_out, teacher, 32)
    )


def test_tags_are_read_by_name_and_other_data_is_refused(teacher: LoadedModel, tmp_path: Path) -> None:
    reordered = list(reversed(TAGS))
    ours = tagged_sentences(4)
    theirs = load_tagged_words(ours, reordered)
    assert theirs.label_names == reordered
    assert [[reordered[t] for t in s] for s in theirs.tags] == [[TAGS[t] for t in s] for s in ours.tags]
    with pytest.raises(DataError, match="B-DATE"):
        load_tagged_words(TaggedExamples([["Monday"]], [[1]], ["O", "B-DATE"], "dates"), TAGS)

    labelled = tmp_path / "reviews.csv"
    with labelled.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["text", "label"], *[[f"review {i}", "good"] for i in range(20)]])
    texts = TextExamples(texts=["a"] * 20, labels=[0] * 20, label_names=["x"], name="reviews")
    pairs = SimilarityExamples(texts=["a", "b"], pairs=[(0, 1, 1.0)], name="pairs")
    for data, message in [(labelled, "is a .csv file"), (texts, "texts with one label"), (pairs, "pairs")]:
        with pytest.raises(DataError, match=message) as raised:
            distill_to_bundle(
                str(teacher.source),
                data,
                tmp_path / "never",
                DistillOptions(epochs=1, max_length=32),
                progress=False,
            )
        assert "ner_tags" in raised.value.hint and "CoNLL" in raised.value.hint
    assert not (tmp_path / "never").exists()


def test_cli_writes_a_tagger_bundle_that_eval_scores_by_f1(tagger_dir: Path, tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", tagged_sentences(40))
    held_out = write_jsonl(tmp_path / "test.jsonl", tagged_sentences(16, offset=40))
    out = tmp_path / "student"
    args = ["distill", "--teacher", str(tagger_dir), "--max-length", "32", "--layers", "1"]
    result = run_cli(
        *args, "--data", str(train), "--eval-data", str(held_out), "--out", str(out), "--epochs", "1"
    )
    assert result.returncode == 0, result.stderr
    assert "eval f1" in result.stdout
    manifest = Bundle.open(out).manifest
    assert (manifest.source.task, manifest.source.role) == ("token-classification", "student")
    assert manifest.source.labels == TAGS and manifest.source.architecture == "BertForTokenClassification"
    record = json.loads((out / "distill.json").read_text())
    assert record["eval_metric"] == "f1" and len(record["eval_scores"]) == 1
    assert record["train_samples"] == 40 and record["eval_samples"] == 16 and "eval_accuracy" not in record
    scores = evaluate_bundle(out, held_out)
    assert set(scores) == {"onnx-fp32"} and scores["onnx-fp32"] == pytest.approx(
        record["eval_scores"][-1], abs=1e-3
    )
    variant = Bundle.open(out).manifest.variants[0]
    assert variant.evaluated_on is not None and variant.evaluated_on.metric == "f1"
    # a text-label CSV is refused in one line that names the tagged formats
    labelled = tmp_path / "reviews.csv"
    labelled.write_text("text,label\n" + "".join(f"review {i},good\n" for i in range(20)))
    refused = run_cli(*args, "--data", str(labelled), "--out", str(tmp_path / "never"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2 and "ner_tags" in refused.stderr, refused.stderr
