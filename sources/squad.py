"""Questions about contexts with their answers for extractive question answering: SQuAD JSON and JSONL.

Each answer is a span of its context: its text and the character at which it starts there. Questions
without an answer (SQuAD v2's unanswerable ones) are refused: edgeship's question answering always
answers with a span. The SQuAD and Quoref sample files shipped in allennlp's test fixtures are read as
data (allennlp is never imported).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any, NamedTuple

from edgeship.errors import DataError, MissingDependencyError
from edgeship.sources.data import NumberedRow, QuestionExamples, read_jsonl_rows, read_utf8

ALLENNLP = "allennlp==0.9.0"
"""The PyPI package whose test fixtures hold the SQuAD and Quoref sample files."""
FIXTURES = "tests/fixtures/data"
"""Where in the allennlp package its data fixtures lie."""
FORMATS = (
    'SQuAD v1 JSON ({"data": [{"paragraphs": [{"context": ..., "qas": [{"id": ..., "question": ..., '
    '"answers": [{"text": ..., "answer_start": ...}]}]}]}]}), '
    'JSONL with a question per line ({"id": ..., "question": ..., "context": ..., '
    '"answers": {"text": [...], "answer_start": [...]}}, Hugging Face squad style), '
    "or a bundled dataset name (squad_sample, quoref_sample, lee_qa, lee_qa_test)"
)
"""What question-answering data may be."""
ANSWER_START_HINT = "answer_start is the 0-based character (not byte or word) at which the answer text starts"


class Question(NamedTuple):
    """One question as read, before it is checked: `where` names it in errors."""

    where: str
    id: str
    question: Any
    context: Any
    answers: Any


def load_questions(path: Path) -> QuestionExamples:
    """Read questions with their contexts and answers; every answer is checked to be where it says."""
    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "missing"
        raise DataError(f"question-answering data '{path}' is {what}", hint=f"pass {FORMATS}")
    suffix = path.suffix.lower()
    if suffix == ".json":
        questions = _json_questions(path)
    elif suffix == ".jsonl":
        questions = _jsonl_questions(read_jsonl_rows(path), path)
    else:
        raise DataError(
            f"question-answering data '{path}' is a {suffix or 'suffix-less'} file", hint=f"pass {FORMATS}"
        )
    if not questions:
        raise DataError(f"'{path}' holds no questions", hint=f"pass {FORMATS}")
    return question_examples(questions, path.stem)


def question_examples(questions: list[Question], name: str) -> QuestionExamples:
    """Examples from questions read, each checked: text, context and answers present, answers in place."""
    texts, contexts, answers = [], [], []
    for question in questions:
        texts.append(_text(question.question, "question text", question.where))
        contexts.append(_text(question.context, "context", question.where))
        answers.append(_answers(question.answers, contexts[-1], question.where))
    ids = [question.id for question in questions]
    return QuestionExamples(questions=texts, contexts=contexts, answers=answers, ids=ids, name=name)


def squad_fixture(relative: str) -> Path:
    """A data file of allennlp's test fixtures (e.g. "squad.json"), found without importing allennlp."""
    spec = importlib.util.find_spec("allennlp")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "the SQuAD and Quoref samples ship inside the 'allennlp' package, which is not installed",
            hint=f"pip install --no-deps {ALLENNLP}",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / FIXTURES / relative
    if not path.is_file():
        raise DataError(
            f"allennlp is installed but {path} is missing",
            hint=f"reinstall it: pip install --force-reinstall --no-deps {ALLENNLP}",
        )
    return path


def _json_questions(path: Path) -> list[Question]:
    """The questions of a SQuAD JSON file; a .json file of one object per line is read as JSONL."""
    text = read_utf8(path)
    if not text.strip():
        return []
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # a first object, then more: JSON lines
            return _jsonl_questions(read_jsonl_rows(path), path)
        raise DataError(f"{path}:{exc.lineno} is not valid JSON ({exc.msg})", hint=f"pass {FORMATS}") from exc
    if isinstance(document, dict) and "data" in document:
        return _squad_questions(document["data"], path)
    if isinstance(document, dict):  # a single JSON line
        return _jsonl_questions([(1, document)], path)
    raise DataError(f"'{path}' is not SQuAD JSON (an object with a 'data' list)", hint=f"pass {FORMATS}")


def _squad_questions(articles: Any, path: Path) -> list[Question]:
    """The questions of SQuAD's articles -> paragraphs -> qas, each with its paragraph's context."""
    questions: list[Question] = []
    for article_number, article in enumerate(_objects(articles, "data", f"{path}"), start=1):
        where = f"{path}: article {article_number}"
        paragraphs = _objects(article.get("paragraphs"), "paragraphs", where)
        for paragraph_number, paragraph in enumerate(paragraphs, start=1):
            for qa in _objects(paragraph.get("qas"), "qas", f"{where} paragraph {paragraph_number}"):
                number = len(questions) + 1
                question_id = str(qa.get("id") or f"{path.stem} question {number}")
                questions.append(
                    Question(
                        f"{path}: question {qa.get('id') or number}",
                        question_id,
                        qa.get("question"),
                        paragraph.get("context"),
                        qa.get("answers"),
                    )
                )
    return questions


def _jsonl_questions(rows: list[NumberedRow], path: Path) -> list[Question]:
    """The question of each JSONL row (question, context and answers keys; id optional)."""
    if not rows:
        return []
    columns = set(rows[0][1])
    if not {"question", "context"} <= columns:
        raise DataError(
            f"'{path}' has columns {sorted(map(str, columns))}; question-answering reads a question, "
            "a context and answers per line",
            hint=f"pass {FORMATS}",
        )
    return [
        Question(
            f"{path}:{line}",
            str(row.get("id") or f"{path.stem} line {line}"),
            row.get("question"),
            row.get("context"),
            row.get("answers"),
        )
        for line, row in rows
    ]


def _objects(value: Any, key: str, where: str) -> list[dict[str, Any]]:
    """`value` if it is a list of JSON objects (SQuAD's nesting), else a refusal naming `key`."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise DataError(f"{where}: '{key}' is not a list of objects", hint=f"pass {FORMATS}")
    return value


def _text(value: Any, what: str, where: str) -> str:
    """A non-empty string, or a refusal saying which one is missing."""
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where} has no {what}", hint=f"pass {FORMATS}")
    return value


def _answers(value: Any, context: str, where: str) -> list[tuple[str, int]]:
    """(text, start) of each answer given (a list of objects or a dict of lists), each found in `context`."""
    if isinstance(value, dict):
        texts, starts = value.get("text"), value.get("answer_start")
        if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
            raise DataError(
                f"{where}: answers' 'text' and 'answer_start' must be lists of the same length",
                hint='give answers as {"text": [...], "answer_start": [...]}',
            )
        pairs = list(zip(texts, starts, strict=True))
    elif isinstance(value, list) and all(isinstance(answer, dict) for answer in value):
        pairs = [(answer.get("text"), answer.get("answer_start")) for answer in value]
    elif value is None:
        pairs = []
    else:
        raise DataError(
            f"{where}: 'answers' is neither a list of objects nor a dict of lists", hint=f"pass {FORMATS}"
        )
    if not pairs:
        raise DataError(
            f"{where} has no answers; unanswerable questions (SQuAD v2) are not supported",
            hint="pass SQuAD v1 style data: every question with at least one answer span in its context",
        )
    answers = [_answer(text, start, context, where) for text, start in pairs]
    return list(dict.fromkeys(answers))  # SQuAD repeats an answer that several annotators gave


def _answer(text: Any, start: Any, context: str, where: str) -> tuple[str, int]:
    """(text, start) if `text` is a non-empty string found at character `start` of `context`."""
    if not isinstance(text, str) or not text:
        raise DataError(f"{where}: an answer has no text", hint=f"pass {FORMATS}")
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise DataError(f"{where}: answer '{text}' has answer_start {start!r}", hint=ANSWER_START_HINT)
    there = context[start : start + len(text)]
    if there != text:
        found = context.find(text)
        elsewhere = (
            f"; the text is at character {found}" if found >= 0 else "; the text is not in the context"
        )
        reads = f"which reads '{there}' there" if there else f"which has {len(context)} characters"
        raise DataError(
            f"{where}: answer '{text}' is not at character {start} of its context, {reads}{elsewhere}",
            hint=ANSWER_START_HINT,
        )
    return text, start
