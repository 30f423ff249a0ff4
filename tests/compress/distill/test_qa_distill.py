"""Distilling an extractive QA model: the student keeps the span head, the span loss is taken over each
window's real tokens, the student learns, windows of long contexts are read, other data shapes are
refused, a run resumes, and the bundle reports SQuAD F1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers

from edgeship.bundle import Bundle
from edgeship.compress.distill.batches import held_out_score, question_windows
from edgeship.compress.distill.losses import DistillationLoss, Outputs, span_ce
from edgeship.compress.distill.registry import StudentOptions, build_student
from edgeship.compress.distill.trainer import TrainOptions, distill
from edgeship.compress.distill.weights import LossWeights
from edgeship.errors import DataError
from edgeship.pipeline.distill import DistillOptions, distill_to_bundle
from edgeship.pipeline.evaluate import evaluate_bundle
from edgeship.sources.data import QuestionExamples, SimilarityExamples, TaggedExamples, TextExamples
from edgeship.sources.loading import LoadedModel, load_model
from tests.conftest import run_cli

PEOPLE = ["Smith", "Jones", "Khan", "Wei", "Cohen", "Brown", "Garcia", "Novak"]
PLACES = ["Paris", "Sydney", "Cairo", "Berlin", "Lima", "Oslo", "Tokyo"]
GROUPS = ["Reuters", "Qantas", "Microsoft", "NASA", "Siemens", "Toyota"]
FILLER = "The talks went on for hours and both sides said they would meet again after the holidays."
MAX_LENGTH = 32


def questions(count: int, offset: int = 0, name: str = "news") -> QuestionExamples:
    """`count` templated questions, each about a short news context whose answer is a name; every third
    context is long enough to need several windows of MAX_LENGTH tokens, the answer in a later one."""
    asked, contexts, answers = [], [], []
    for n in range(offset, offset + count):
        person, place, group = PEOPLE[n % 8], PLACES[(n * 3 + 1) % 7], GROUPS[(n * 5 + 2) % 6]
        lead = f"{FILLER} " if n % 3 == 0 else ""
        context = f"{lead}{person} met {group} in {place} on Monday."
        question, answer = [
            (f"Who met {group} in {place}?", person),
            (f"Where did {person} meet {group}?", place),
            (f"Which company did {person} meet in {place}?", group),
        ][n % 3]
        asked.append(question)
        contexts.append(context)
        answers.append([(answer, context.index(answer))])
    ids = [f"{name}-{n}" for n in range(offset, offset + count)]
    return QuestionExamples(questions=asked, contexts=contexts, answers=answers, ids=ids, name=name)


def write_jsonl(path: Path, examples: QuestionExamples) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for row in zip(examples.ids, examples.questions, examples.contexts, examples.answers, strict=True):
            id_, question, context, answers = row
            spans = {"text": [t for t, _ in answers], "answer_start": [s for _, s in answers]}
            handle.write(json.dumps({"id": id_, "question": question, "context": context, "answers": spans}))
            handle.write("\n")
    return path


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    """A 3-layer random BertForQuestionAnswering with the MiniLM tokenizer."""
    config = transformers.BertConfig(
        vocab_size=30522, hidden_size=64, num_hidden_layers=3, num_attention_heads=4, intermediate_size=128
    )
    path = tmp_path_factory.mktemp("models") / "tiny-qa-teacher"
    torch.manual_seed(0)
    transformers.BertForQuestionAnswering(config).save_pretrained(path)
    transformers.AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def teacher(teacher_dir: Path) -> LoadedModel:
    return load_model(str(teacher_dir))


def test_students_keep_the_span_head(teacher: LoadedModel) -> None:
    assert teacher.task == "question-answering"
    for family, layers in (("distilbert", 1), ("tinybert", 2)):
        student = build_student(family, teacher, StudentOptions(layers=layers, hidden_size=None))
        model = student.model
        assert type(model).__name__ == "BertForQuestionAnswering", family
        assert model.config.num_hidden_layers == layers < teacher.config.num_hidden_layers
        assert model.qa_outputs.out_features == 2 and student.losses.soft > 0.0


def test_windows_hold_the_gold_span(teacher: LoadedModel) -> None:
    """A long context is read in several windows; the gold span's tokens decode to the answer's text."""
    examples = questions(6)
    windows = question_windows(examples, teacher, MAX_LENGTH)
    per_question = windows.references.example_of_feature.tolist()
    assert per_question.count(0) > 1 and per_question.count(1) == 1  # question 0's context is long
    assert windows.inputs["input_ids"].shape == (len(windows), MAX_LENGTH)
    for feature, (start, end) in enumerate(windows.labels.tolist()):
        question = per_question[feature]
        if (start, end) == (0, 0):
            continue
        offsets = windows.references.offsets[feature]
        text = examples.contexts[question][offsets[start, 0] : offsets[end, 1]]
        assert text == examples.answers[question][0][0]
    holding = {per_question[f] for f, span in enumerate(windows.labels.tolist()) if span != [0, 0]}
    assert holding == set(range(6))


def test_the_span_loss_is_over_real_tokens() -> None:
    """Padded positions (logits of either model) change nothing and give no NaN gradient; a real token
    does; the hard term is transformers' QA loss (mean of start and end cross-entropy)."""
    torch.manual_seed(0)
    weights = LossWeights(soft=0.5, hard=0.5, hidden=1.0, temperature=2.0)
    loss = DistillationLoss(weights, layer_map=[0, 1], student_width=8, teacher_width=8, spans=True)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    positions = torch.tensor([[2, 3], [0, 0]])

    def outputs() -> Outputs:
        return Outputs(torch.randn(2, 6, 2), tuple(torch.randn(2, 6, 8) for _ in range(2)))

    student, teacher = outputs(), outputs()
    student.output.requires_grad_(True)
    base, terms = loss(student, teacher, positions, mask)
    base_value = float(base.detach())
    assert set(terms) == {"soft", "hard", "hidden"} and all(v > 0 for v in terms.values())
    base.backward()
    assert student.output.grad is not None and bool(torch.isfinite(student.output.grad).all())
    assert bool((student.output.grad[1, 4:] == 0).all())
    padded_student = Outputs(student.output.detach().clone(), student.hidden_states)
    padded_student.output[1, 4:] += 50.0
    padded_teacher = Outputs(teacher.output.clone(), teacher.hidden_states)
    padded_teacher.output[1, 5] = 1e4
    for pair in [(padded_student, teacher), (student, padded_teacher)]:
        again, _ = loss(*pair, positions, mask)
        assert float(again.detach()) == pytest.approx(base_value, abs=1e-5)
    real = Outputs(student.output.detach().clone(), student.hidden_states)
    real.output[1, 3, 1] += 5.0
    assert float(loss(real, teacher, positions, mask)[0]) != pytest.approx(base_value, abs=1e-3)
    same, terms = loss(teacher, teacher, positions, mask)
    assert terms["soft"] == pytest.approx(0.0, abs=1e-6)
    logits = torch.randn(3, 7, 2)
    gold = torch.tensor([[1, 2], [0, 0], [6, 6]])
    expected = (
        torch.nn.functional.cross_entropy(logits[..., 0], gold[:, 0])
        + torch.nn.functional.cross_entropy(logits[..., 1], gold[:, 1])
    ) / 2
    assert float(span_ce(logits, gold)) == pytest.approx(float(expected), abs=1e-6)


def test_the_student_learns_answer_spans_and_resumes(teacher: LoadedModel, tmp_path: Path) -> None:
    train, held_out = questions(40), questions(12, offset=40)
    options = TrainOptions(
        epochs=2,
        batch_size=8,
        learning_rate=3e-3,
        warmup_ratio=0.0,
        max_length=MAX_LENGTH,
        checkpoint_every=5,
    )
    losses = LossWeights(soft=0.2, hard=0.8, hidden=1.0, hidden_loss="cosine")

    def run(resume: Path | None = None) -> tuple[object, object]:
        student = build_student("distilbert", teacher, StudentOptions(layers=1))
        result = distill(
            teacher,
            student,
            losses,
            train,
            held_out,
            options,
            fingerprint="questions",
            checkpoint_dir=tmp_path / "checkpoints",
            resume=resume,
            progress=False,
        )
        return student, result

    before = held_out_score(
        build_student("distilbert", teacher, StudentOptions(layers=1)).model,
        "transformers",
        held_out,
        teacher,
        MAX_LENGTH,
    )
    student, result = run()
    windows = len(question_windows(train, teacher, MAX_LENGTH))
    assert windows > len(train) and result.steps == 2 * -(-windows // 8)
    history = result.history
    assert set(history[0]) == {"step", "loss", "soft", "hard", "hidden"}
    early, late = history[:3], history[-3:]
    for term in ("loss", "hard"):
        assert sum(h[term] for h in late) < 0.7 * sum(h[term] for h in early), (early, late)
    assert result.eval_metric == "f1" and len(result.eval_scores) == 2
    assert all(0.0 <= score <= 1.0 for score in result.eval_scores)
    assert result.eval_scores[-1] > before + 0.5, (before, result.eval_scores)
    assert result.eval_scores[-1] == pytest.approx(
        held_out_score(student.model, "transformers", held_out, teacher, MAX_LENGTH)
    )
    # resumed from its last checkpoint (mid-run), a fresh student ends where the uninterrupted run ended
    resumed_student, resumed = run(resume=tmp_path / "checkpoints")
    assert resumed.resumed_from == (result.steps - 1) // 5 * 5 > 0
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in result.history])
    trained, again = student.model.state_dict(), resumed_student.model.state_dict()
    assert all(torch.allclose(trained[name], again[name], atol=1e-6) for name in trained)
    assert resumed.eval_scores == pytest.approx(result.eval_scores[-len(resumed.eval_scores) :])


def test_other_data_shapes_are_refused(teacher: LoadedModel, tmp_path: Path) -> None:
    texts = TextExamples(texts=["a"] * 20, labels=[0] * 20, label_names=["x"], name="reviews")
    tagged = TaggedExamples([["Paris"]] * 20, [[0]] * 20, ["O"], "tags")
    pairs = SimilarityExamples(texts=["a", "b"], pairs=[(0, 1, 1.0)], name="pairs")
    for data, shape in [
        (texts, "texts with one label each"),
        (tagged, "tagged words"),
        (pairs, "texts or text pairs"),
    ]:
        with pytest.raises(DataError) as raised:
            distill_to_bundle(
                str(teacher.source), data, tmp_path / "never", DistillOptions(epochs=1), progress=False
            )
        assert raised.value.message == (
            f"{data.name} holds {shape}; a question-answering student learns the answer span of a context "
            "for each question"
        )
        assert "SQuAD v1.1 JSON" in raised.value.hint and "lee_qa" in raised.value.hint
    with pytest.raises(DataError, match="has 10 examples; distillation needs at least 16"):
        distill_to_bundle(
            str(teacher.source), questions(10), tmp_path / "never", DistillOptions(epochs=1), progress=False
        )
    assert not (tmp_path / "never").exists()


def test_cli_writes_a_qa_bundle_that_eval_scores_by_f1(teacher_dir: Path, tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", questions(40))
    held_out = write_jsonl(tmp_path / "test.jsonl", questions(16, offset=40))
    out = tmp_path / "student"
    args = ["distill", "--teacher", str(teacher_dir), "--max-length", str(MAX_LENGTH), "--layers", "1"]
    result = run_cli(
        *args, "--data", str(train), "--eval-data", str(held_out), "--out", str(out), "--epochs", "1"
    )
    assert result.returncode == 0, result.stderr
    assert "eval f1" in result.stdout
    manifest = Bundle.open(out).manifest
    assert (manifest.source.task, manifest.source.role) == ("question-answering", "student")
    assert manifest.source.architecture == "BertForQuestionAnswering"
    record = json.loads((out / "distill.json").read_text())
    assert record["eval_metric"] == "f1" and len(record["eval_scores"]) == 1
    assert record["train_samples"] == 40 and record["eval_samples"] == 16 and "eval_accuracy" not in record
    assert record["student_parameters"] < record["teacher_parameters"]
    scores = evaluate_bundle(out, held_out)
    assert set(scores) == {"onnx-fp32"} and scores["onnx-fp32"] == pytest.approx(
        record["eval_scores"][-1], abs=1e-3
    )
    # a text-label CSV is refused in one line that names the question formats
    labelled = tmp_path / "reviews.csv"
    labelled.write_text("text,label\n" + "".join(f"review {i},good\n" for i in range(20)))
    refused = run_cli(*args, "--data", str(labelled), "--out", str(tmp_path / "never"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2 and "SQuAD" in refused.stderr, refused.stderr
