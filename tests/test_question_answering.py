"""question-answering end to end: windows over long contexts, the best span over all windows, SQuAD's EM
and F1 exactly as the official v1.1 script counts them, a tiny QA model exported and scored alike by
PyTorch, ONNX Runtime and LiteRT, int8 within the budget, and one-line refusals of the wrong input."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from edgeship.bundle import Bundle
from edgeship.sources.preprocess import answer_positions, encode_questions
from edgeship.tasks.spans import NOT_CONTEXT, SpanReferences, best_spans, squad_scores
from tests.conftest import run_cli

CONTEXT = (
    "The Eiffel Tower was designed by the engineering company of Gustave Eiffel. It stands in Paris, "
    "on the Champ de Mars. Construction began in 1887 and took two years. "
)


def _references(
    offsets: np.ndarray, example_of_feature: list[int], max_answer_length: int = 3
) -> SpanReferences:
    return SpanReferences(
        example_of_feature=np.asarray(example_of_feature),
        offsets=offsets,
        contexts=["abcdefghij"] * (max(example_of_feature) + 1),
        answers=[["x"]] * (max(example_of_feature) + 1),
        max_answer_length=max_answer_length,
    )


def test_the_best_span_is_the_highest_allowed_start_plus_end_over_all_windows() -> None:
    # four windows of one question: tokens 0-1 are the question (not context), 2-5 are context
    offsets = np.full((4, 6, 2), NOT_CONTEXT)
    offsets[:, 2:] = [[0, 2], [2, 4], [4, 6], [6, 8]]
    offsets[3, 2:] += 10  # the last window reads characters 10-18
    logits = np.full((4, 6, 2), -10.0, dtype=np.float32)
    logits[0, 3, 0], logits[0, 4, 1] = 4.0, 3.0  # characters 2-6, score 7
    logits[0, 0] = [50.0, 50.0]  # the question's tokens are never an answer
    logits[1, 2, 0], logits[1, 5, 1] = 6.0, 6.0  # 4 tokens, more than max_answer_length 3
    logits[2, 5, 0], logits[2, 2, 1] = 9.0, 9.0  # the end before the start
    logits[3, 3, 0], logits[3, 3, 1] = 4.0, 3.5  # characters 12-14, score 7.5: the best allowed
    spans = best_spans(logits, _references(offsets, [0, 0, 0, 0]))
    assert spans.tolist() == [[12, 14]]
    logits[3, 3] = -10.0
    assert best_spans(logits, _references(offsets, [0, 0, 0, 0])).tolist() == [[2, 6]]


def test_each_question_gets_its_own_windows_best_span() -> None:
    offsets = np.full((2, 4, 2), NOT_CONTEXT)
    offsets[:, 1:] = [[0, 3], [4, 7], [8, 10]]
    logits = np.zeros((2, 4, 2), dtype=np.float32)
    logits[0, 1] = [2.0, 2.0]
    logits[1, 2, 0], logits[1, 3, 1] = 2.0, 2.0
    assert best_spans(logits, _references(offsets, [0, 1])).tolist() == [[0, 3], [4, 10]]


def _official_squad_eval() -> object:
    """SQuAD v1.1's official evaluation script, as allennlp 0.9.0 ships it (loaded by path: allennlp
    itself cannot be imported here)."""
    allennlp = importlib.util.find_spec("allennlp")
    assert allennlp is not None and allennlp.submodule_search_locations
    script = Path(list(allennlp.submodule_search_locations)[0]) / "tools" / "squad_eval.py"
    spec = importlib.util.spec_from_file_location("squad_v11_eval", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exact_match_and_f1_are_the_official_squad_scripts() -> None:
    official = _official_squad_eval()
    predictions = ["Denver Broncos", "the Broncos!", "Carolina", "Santa Clara, California", "", "gold"]
    answers = [
        ["Denver Broncos"],
        ["Denver Broncos", "Broncos"],
        ["Carolina Panthers"],
        ["Levi's Stadium", "Santa Clara"],
        ["nothing"],
        ["a golden anniversary", "gold"],
    ]
    dataset = [
        {
            "paragraphs": [
                {
                    "qas": [
                        {"id": str(i), "answers": [{"text": text} for text in golds]}
                        for i, golds in enumerate(answers)
                    ]
                }
            ]
        }
    ]
    expected = official.evaluate(dataset, {str(i): p for i, p in enumerate(predictions)})  # type: ignore[attr-defined]
    ours = squad_scores(predictions, answers)
    assert ours["exact_match"] * 100 == pytest.approx(expected["exact_match"])
    assert ours["f1"] * 100 == pytest.approx(expected["f1"])
    assert ours["exact_match"] == pytest.approx(3 / 6)


def test_a_long_context_is_read_in_windows_that_share_doc_stride_tokens(tokenizer_dir: Path) -> None:
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer_dir)
    context = CONTEXT * 4
    question = "Who designed the Eiffel Tower? " * 30  # longer than half the sequence: cut
    inputs, example_of_feature, offsets = encode_questions(
        tokenizer,
        [question],
        [context],
        max_length=64,
        doc_stride=16,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
    )
    windows = len(example_of_feature)
    assert windows >= 4 and set(example_of_feature.tolist()) == {0}
    first_context = [int(np.flatnonzero(row[:, 0] >= 0)[0]) for row in offsets]
    assert first_context[0] == 34  # [CLS], the question cut to 32 tokens, [SEP]
    for window in range(windows - 1):  # consecutive windows share exactly doc_stride context tokens
        here = offsets[window][offsets[window][:, 0] >= 0]
        after = offsets[window + 1][offsets[window + 1][:, 0] >= 0]
        assert here[-16:].tolist() == after[:16].tolist()
    assert (inputs["token_type_ids"][offsets[..., 0] >= 0] == 1).all()
    start = context.index("Gustave Eiffel")
    found = [answer_positions(offsets[w], start, start + len("Gustave Eiffel")) for w in range(windows)]
    held = [(w, s, e) for w, (s, e) in enumerate(found) if (s, e) != (0, 0)]
    assert held, "some window holds the answer"
    window, first, last = held[0]
    assert context[offsets[window, first, 0] : offsets[window, last, 1]] == "Gustave Eiffel"


def _write_questions(path: Path, count: int) -> Path:
    names = ["Gustave Eiffel", "Paris", "1887", "the Champ de Mars"]
    questions = ["Who designed it?", "Where does it stand?", "When did construction begin?", "On what?"]
    rows = []
    for index in range(count):
        context = CONTEXT * (1 + index % 3)
        answer = names[index % 4]
        rows.append(
            {
                "id": f"q{index}",
                "question": questions[index % 4],
                "context": context,
                "answers": {"text": [answer], "answer_start": [context.index(answer)]},
            }
        )
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


@pytest.fixture(scope="module")
def qa_bundle(tmp_path_factory: pytest.TempPathFactory, qa_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("qa") / "bundle"
    for artifact_format in ("onnx", "tflite"):
        result = run_cli(
            "export", str(qa_dir), "--out", str(out), "--max-length", "48", "--format", artifact_format
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_the_task_is_read_from_the_head_and_every_artifact_agrees(qa_bundle: Path) -> None:
    manifest = Bundle.open(qa_bundle).manifest
    assert manifest.source.task == "question-answering"
    onnx = manifest.variant("onnx-fp32")
    assert onnx is not None
    assert [(o.name, o.shape) for o in onnx.outputs or manifest.outputs] == [
        ("span_logits", ["batch", "sequence", 2])
    ]
    preprocessing = manifest.preprocessing
    assert (preprocessing.doc_stride, preprocessing.max_answer_length) == (12, 30)  # type: ignore[union-attr]
    for variant in manifest.variants:
        assert variant.parity is not None and variant.parity.argmax_agreement == 1.0, variant.id


def test_eval_scores_squad_f1_as_pytorch_decodes_it(qa_bundle: Path, qa_dir: Path, tmp_path: Path) -> None:
    import transformers

    from edgeship.compress.finetune_qa import predict_question_answerer
    from edgeship.sources.squad import load_questions

    data = _write_questions(tmp_path / "questions.jsonl", 12)
    result = run_cli("eval", str(qa_bundle), "--data", str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = Bundle.open(qa_bundle).manifest
    examples = load_questions(data)
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(qa_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(qa_dir)
    logits, references = predict_question_answerer(model, tokenizer, examples, max_length=48)
    from edgeship.tasks.spans import answer_texts

    pytorch_f1 = squad_scores(
        answer_texts(best_spans(logits, references), examples.contexts), references.answers
    )["f1"]
    for variant in manifest.variants:
        assert variant.evaluated_on is not None and variant.evaluated_on.metric == "f1"
        assert variant.evaluated_on.samples == 12  # questions, not their windows
        assert variant.accuracy == pytest.approx(pytorch_f1, abs=1e-9), variant.id


def test_int8_is_scored_against_the_fp32_answers(qa_bundle: Path, tmp_path: Path) -> None:
    data = _write_questions(tmp_path / "questions.jsonl", 12)
    result = run_cli(
        "quantize",
        str(qa_bundle),
        "--scheme",
        "int8-dynamic",
        "--eval-data",
        str(data),
        "--max-accuracy-drop",
        "100",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    variant = Bundle.open(qa_bundle).manifest.variant("onnx-int8-dynamic")
    assert variant is not None and variant.accuracy is not None and variant.bytes < 4_000_000


def test_data_of_another_shape_is_refused_naming_the_formats(qa_bundle: Path, tmp_path: Path) -> None:
    csv = tmp_path / "reviews.csv"
    csv.write_text("text,label\ngreat film,1\n")
    result = run_cli("eval", str(qa_bundle), "--data", str(csv))
    assert result.returncode != 0
    assert "SQuAD" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("eval", str(qa_bundle), "--data", "lee_ner_test")
    assert result.returncode != 0 and "question-answering" in result.stderr


def test_a_model_without_a_span_head_is_refused_for_question_answering(
    tagger_dir: Path, tmp_path: Path
) -> None:
    result = run_cli("export", str(tagger_dir), "--out", str(tmp_path / "b"), "--task", "question-answering")
    assert result.returncode != 0
    assert "ForTokenClassification" in result.stderr and "token-classification" in result.stderr
