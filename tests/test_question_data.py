"""Question-answering data: SQuAD JSON and JSONL read with every answer checked in place, one-line
refusals of the wrong input, allennlp's SQuAD and Quoref samples, and the templated lee_qa set."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from edgeship.errors import DataError, MissingDependencyError
from edgeship.sources.data import QuestionExamples
from edgeship.sources.squad import load_questions, squad_fixture

CONTEXT = "The Denver Broncos won Super Bowl 50 at Levi's Stadium in Santa Clara."
"""'Denver Broncos' starts at character 4, 'Santa Clara' at 58."""

needs_allennlp = pytest.mark.skipif(
    importlib.util.find_spec("allennlp") is None,
    reason="needs allennlp's fixture files (pip install --no-deps allennlp==0.9.0)",
)


def _squad(questions: list[dict[str, Any]], context: str = CONTEXT) -> dict[str, Any]:
    """A SQuAD document of one article with one paragraph holding `questions`."""
    return {
        "version": "1.1",
        "data": [{"title": "t", "paragraphs": [{"context": context, "qas": questions}]}],
    }


def _write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _refusal(path: Path) -> str:
    """The one line the CLI would print for reading `path`."""
    with pytest.raises(DataError) as error:
        load_questions(path)
    assert "\n" not in error.value.one_line()
    return error.value.message


def _assert_answers_in_place(examples: QuestionExamples) -> None:
    for context, answers in zip(examples.contexts, examples.answers, strict=True):
        assert answers
        assert all(context[start : start + len(text)] == text for text, start in answers)


def test_squad_json_is_read_with_ids_and_answers(tmp_path: Path) -> None:
    broncos = {"text": "Denver Broncos", "answer_start": 4}
    path = _write_json(
        tmp_path / "dev.json",
        _squad(
            [
                {"id": "q1", "question": "Who won?", "answers": [broncos, broncos]},
                {"question": "Where?", "answers": [{"text": "Santa Clara", "answer_start": 58}]},
            ]
        ),
    )
    examples = load_questions(path)
    assert examples.name == "dev"
    assert examples.questions == ["Who won?", "Where?"]
    assert examples.contexts == [CONTEXT, CONTEXT]
    assert examples.answers == [[("Denver Broncos", 4)], [("Santa Clara", 58)]]  # a repeated answer once
    assert examples.ids == ["q1", "dev question 2"]


def test_jsonl_is_read_with_answers_as_lists_or_objects(tmp_path: Path) -> None:
    as_lists = {"text": ["Denver Broncos", "Broncos"], "answer_start": [4, 11]}
    as_objects = [{"text": "Santa Clara", "answer_start": 58}]
    rows = [
        {"id": "a", "question": "Who won?", "context": CONTEXT, "answers": as_lists},
        {"question": "Where?", "context": CONTEXT, "answers": as_objects},
    ]
    for suffix in (".jsonl", ".json"):  # datasets' to_json writes JSON lines to .json files
        examples = load_questions(_write_jsonl(tmp_path / f"train{suffix}", rows))
        assert examples.ids == ["a", "train line 2"]
        assert examples.answers == [[("Denver Broncos", 4), ("Broncos", 11)], [("Santa Clara", 58)]]
    single = load_questions(_write_jsonl(tmp_path / "one.json", rows[1:]))
    assert single.ids == ["one line 1"]


def test_an_answer_not_at_its_start_is_refused_saying_what_is_there(tmp_path: Path) -> None:
    answer = {"text": "Denver Broncos", "answer_start": 6}
    path = _write_json(
        tmp_path / "d.json", _squad([{"id": "56be4db0", "question": "Who?", "answers": [answer]}])
    )
    assert _refusal(path) == (
        f"{path}: question 56be4db0: answer 'Denver Broncos' is not at character 6 of its context, "
        "which reads 'nver Broncos w' there; the text is at character 4"
    )
    answer["answer_start"] = 500
    assert _refusal(_write_json(path, _squad([{"id": "q", "question": "Who?", "answers": [answer]}]))) == (
        f"{path}: question q: answer 'Denver Broncos' is not at character 500 of its context, which has "
        f"{len(CONTEXT)} characters; the text is at character 4"
    )
    row = {"question": "Who?", "context": CONTEXT, "answers": {"text": ["Denver Colts"], "answer_start": [4]}}
    assert _refusal(_write_jsonl(tmp_path / "d.jsonl", [row])) == (
        f"{tmp_path / 'd.jsonl'}:1: answer 'Denver Colts' is not at character 4 of its context, "
        "which reads 'Denver Bronc' there; the text is not in the context"
    )


def test_unanswerable_squad_v2_questions_are_refused(tmp_path: Path) -> None:
    question = {"id": "v2", "question": "Who lost?", "answers": [], "is_impossible": True}
    path = _write_json(tmp_path / "v2.json", _squad([question]))
    assert _refusal(path) == (
        f"{path}: question v2 has no answers; unanswerable questions (SQuAD v2) are not supported"
    )
    row = {"question": "Who lost?", "context": CONTEXT, "answers": {"text": [], "answer_start": []}}
    jsonl = _write_jsonl(tmp_path / "v2.jsonl", [row])
    assert _refusal(jsonl) == (
        f"{jsonl}:1 has no answers; unanswerable questions (SQuAD v2) are not supported"
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"question": " ", "context": CONTEXT, "answers": []}, " has no question text"),
        ({"question": "Who?", "context": None, "answers": []}, " has no context"),
        ({"question": "Who?", "context": CONTEXT},
         " has no answers; unanswerable questions (SQuAD v2) are not supported"),
        ({"question": "Who?", "context": CONTEXT, "answers": "Broncos"},
         ": 'answers' is neither a list of objects nor a dict of lists"),
        ({"question": "Who?", "context": CONTEXT, "answers": {"text": ["a"], "answer_start": []}},
         ": answers' 'text' and 'answer_start' must be lists of the same length"),
        ({"question": "Who?", "context": CONTEXT, "answers": [{"text": "", "answer_start": 0}]},
         ": an answer has no text"),
        ({"question": "Who?", "context": CONTEXT, "answers": [{"text": "The", "answer_start": "0"}]},
         ": answer 'The' has answer_start '0'"),
    ],
)  # fmt: skip
def test_a_question_missing_a_part_is_refused_naming_its_line(
    tmp_path: Path, row: dict[str, Any], message: str
) -> None:
    valid = {"question": "Who?", "context": CONTEXT, "answers": [{"text": "The", "answer_start": 0}]}
    path = _write_jsonl(tmp_path / "q.jsonl", [valid, row])
    assert _refusal(path) == f"{path}:2{message}"


def test_files_that_are_not_questions_are_refused_naming_the_formats(tmp_path: Path) -> None:
    csv_file = tmp_path / "reviews.csv"
    csv_file.write_text("text,label\ngreat,1\n")
    labelled = _write_jsonl(tmp_path / "reviews.jsonl", [{"text": "great", "label": 1}])
    empty = tmp_path / "empty.json"
    empty.write_text("\n")
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [\n  {"paragraphs": }\n]}')
    nested = _write_json(tmp_path / "nested.json", {"data": [{"paragraphs": {"context": CONTEXT}}]})
    listed = _write_json(tmp_path / "listed.json", [{"question": "Who?"}])
    refusals = {
        tmp_path / "absent.json": f"question-answering data '{tmp_path / 'absent.json'}' is missing",
        tmp_path: f"question-answering data '{tmp_path}' is a folder",
        csv_file: f"question-answering data '{csv_file}' is a .csv file",
        labelled: f"'{labelled}' has columns ['label', 'text']; question-answering reads a question, a "
        "context and answers per line",
        empty: f"'{empty}' holds no questions",
        broken: f"{broken}:2 is not valid JSON (Expecting value)",
        nested: f"{nested}: article 1: 'paragraphs' is not a list of objects",
        listed: f"'{listed}' is not SQuAD JSON (an object with a 'data' list)",
    }
    for path, message in refusals.items():
        with pytest.raises(DataError) as error:
            load_questions(path)
        assert error.value.message == message
        assert "SQuAD v1 JSON" in error.value.hint and "JSONL" in error.value.hint


@needs_allennlp
def test_allennlp_squad_and_quoref_samples_load_with_every_answer_in_place() -> None:
    from edgeship.sources.datasets import DATASETS

    squad, quoref = DATASETS["squad_sample"](), DATASETS["quoref_sample"]()
    assert isinstance(squad, QuestionExamples) and isinstance(quoref, QuestionExamples)
    assert (squad.name, len(squad), len(set(squad.contexts))) == ("squad_sample", 5, 2)
    assert (quoref.name, len(quoref), len(set(quoref.contexts))) == ("quoref_sample", 4, 2)
    assert squad.ids[0] == "5733be284776f41900661182"
    assert squad.answers[0] == [("Saint Bernadette Soubirous", 515)]
    assert quoref.answers[1] == [("Heseltine", 459)]
    _assert_answers_in_place(squad)
    _assert_answers_in_place(quoref)


def test_missing_allennlp_is_named_with_its_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "allennlp" else real_find_spec(name, *a)
    )
    with pytest.raises(MissingDependencyError) as error:
        squad_fixture("squad.json")
    assert error.value.hint == "pip install --no-deps allennlp==0.9.0"


@pytest.fixture(scope="module")
def lee_qa() -> tuple[QuestionExamples, QuestionExamples]:
    from edgeship.sources.datasets import DATASETS

    train, test = DATASETS["lee_qa"](), DATASETS["lee_qa_test"]()
    assert isinstance(train, QuestionExamples) and isinstance(test, QuestionExamples)
    return train, test


def test_lee_qa_is_templated_from_silver_entities_split_by_document(
    lee_qa: tuple[QuestionExamples, QuestionExamples],
) -> None:
    train, test = lee_qa
    assert (train.name, test.name) == ("lee_qa", "lee_qa_test")
    assert 1500 <= len(train) <= 2500 and 300 <= len(test) <= 600
    assert len(set(train.contexts)) >= 350 and len(set(test.contexts)) >= 90
    assert not set(train.contexts) & set(test.contexts)
    assert len(set(train.ids)) == len(train) and train.ids[0].startswith("lee_qa document 0 window 0 entity ")
    assert all(question.endswith("?") and len(question.split()) >= 4 for question in train.questions)
    assert all(len(answers) == 1 for answers in train.answers)
    assert sum(len(context.split()) > 200 for context in set(train.contexts)) > 40  # longer than one window
    _assert_answers_in_place(train)
    _assert_answers_in_place(test)


def test_lee_qa_answers_are_unique_in_their_context_and_the_set_is_deterministic(
    lee_qa: tuple[QuestionExamples, QuestionExamples],
) -> None:
    from edgeship.sources.silver_qa import load_lee_qa

    train, test = lee_qa
    assert all(
        context.count(answers[0][0]) == 1
        for context, answers in zip(train.contexts, train.answers, strict=True)
    )
    assert load_lee_qa("test") == test
    assert load_lee_qa("train") == train
