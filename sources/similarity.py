"""Scored text pairs for sentence embeddings: CSV / JSONL files, and the Lee news corpus shipped in gensim."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from edgeship.errors import DataError, MissingDependencyError
from edgeship.sources.data import NumberedRow, SimilarityExamples, read_csv_rows, read_jsonl_rows

FIRST_COLUMNS = ("text1", "sentence1", "text_a", "query")
SECOND_COLUMNS = ("text2", "sentence2", "text_b", "passage")
SCORE_COLUMNS = ("score", "similarity", "label")
LEE_DOCUMENTS = "test/test_data/lee.cor"
LEE_SCORES = "test/test_data/similarities0-1.txt"
LEE_BACKGROUND = "test/test_data/lee_background.cor"


def load_similarity_pairs(path: Path) -> SimilarityExamples:
    """Pairs of texts with a similarity score from a CSV or JSONL file; a text seen twice is encoded once."""
    path = Path(path)
    expected = f"{'/'.join(FIRST_COLUMNS)}, {'/'.join(SECOND_COLUMNS)} and {'/'.join(SCORE_COLUMNS)} columns"
    if not path.is_file():
        what = "a folder" if path.is_dir() else "missing"
        raise DataError(
            f"feature-extraction data '{path}' is {what}",
            hint=f"pass a .csv or .jsonl file with {expected}, or the bundled dataset 'lee'",
        )
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".json"):
        raise DataError(
            f"cannot read '{path}': unknown data format", hint=f"use .csv or .jsonl with {expected}"
        )
    rows = read_csv_rows(path) if suffix == ".csv" else read_jsonl_rows(path)
    if not rows:
        raise DataError(f"'{path}' holds no pairs", hint=f"add rows with {expected}")
    columns = [_column(rows, choices) for choices in (FIRST_COLUMNS, SECOND_COLUMNS, SCORE_COLUMNS)]
    if None in columns:
        raise DataError(
            f"'{path}' has columns {sorted(map(str, rows[0][1]))}; feature-extraction reads scored text pairs",
            hint=f"give the file {expected} (one pair per row)",
        )
    first, second, score = (str(column) for column in columns)
    texts: dict[str, int] = {}
    pairs = []
    for line, row in rows:
        pair = [_text(row, first, path, line), _text(row, second, path, line)]
        indices = [texts.setdefault(text, len(texts)) for text in pair]
        pairs.append((indices[0], indices[1], _score(row.get(score), score, path, line)))
    return SimilarityExamples(texts=list(texts), pairs=pairs, name=path.stem)


def load_lee() -> SimilarityExamples:
    """Lee et al. (2005): 50 news documents and the mean human similarity of each of their 1,225 pairs,
    as shipped in gensim's test data (read as files; gensim is not imported)."""
    root = gensim_dir()
    texts = _lee_documents(root / LEE_DOCUMENTS)
    matrix = [line.split() for line in (root / LEE_SCORES).read_text(encoding="ascii").splitlines() if line]
    if len(matrix) != len(texts) or any(len(row) != len(texts) for row in matrix):
        raise DataError(
            f"{root / LEE_SCORES} is not a {len(texts)} x {len(texts)} matrix",
            hint="reinstall gensim: pip install --force-reinstall --no-deps gensim==4.4.0",
        )
    pairs = [(i, j, float(matrix[i][j])) for i in range(len(texts)) for j in range(i + 1, len(texts))]
    return SimilarityExamples(texts=texts, pairs=pairs, name="lee")


def load_lee_background() -> list[str]:
    """The 300 news documents of gensim's lee_background.cor (unlabelled: distillation and retrieval text)."""
    return _lee_documents(gensim_dir() / LEE_BACKGROUND)


def gensim_dir() -> Path:
    """The installed gensim package folder, found without importing it (gensim needs scipy and more)."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "the lee dataset ships inside the 'gensim' package, which is not installed",
            hint="pip install --no-deps gensim==4.4.0",
        )
    return Path(list(spec.submodule_search_locations)[0])


def _lee_documents(path: Path) -> list[str]:
    """One document per non-blank line (the files are latin-1)."""
    if not path.is_file():
        raise DataError(
            f"gensim is installed but {path} is missing",
            hint="reinstall it: pip install --force-reinstall --no-deps gensim==4.4.0",
        )
    return [
        " ".join(line.split()) for line in path.read_text(encoding="latin-1").splitlines() if line.strip()
    ]


def _column(rows: list[NumberedRow], choices: tuple[str, ...]) -> str | None:
    return next((column for column in choices if column in rows[0][1]), None)


def _text(row: dict[str, Any], column: str, path: Path, line: int) -> str:
    value = row.get(column)
    if value is None or not str(value).strip():
        raise DataError(f"{path}:{line} has no '{column}'", hint=f"give every row a '{column}' text")
    return str(value)


def _score(value: Any, column: str, path: Path, line: int) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(
            f"{path}:{line}: '{column}' is {value!r}, not a number",
            hint="scores are numbers (any scale: the metric is a rank correlation)",
        ) from None
