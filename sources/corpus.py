"""A sentence encoder's (feature-extraction) data besides its scored eval pairs: unlabelled texts.

A feature-extraction student learns the teacher's embeddings, and int8 calibration needs only inputs, so
any text serves: a file with a text column (labels are not read), both texts of each pair of a
scored-pairs file (scores are not read), or a bundled corpus. Texts are held as SimilarityExamples
without pairs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeAlias

from edgeship.errors import DataError
from edgeship.sources.data import (
    TEXT_COLUMNS,
    ImageExamples,
    SimilarityExamples,
    TextExamples,
    read_csv_rows,
    read_jsonl_rows,
)

TRAINING_FORMATS = (
    f"a CSV/JSONL with a text column ({'/'.join(TEXT_COLUMNS)}; labels not needed), a scored-pairs "
    "CSV/JSONL (text1, text2[, score]), or a bundled corpus (lee_background, rotten_tomatoes)"
)
"""What `--data` may be when the teacher is a sentence encoder."""
EVAL_FORMATS = "a CSV/JSONL of scored pairs (text1, text2, score) or the bundled dataset 'lee'"
"""What `--eval-data` may be when the teacher is a sentence encoder."""

Source: TypeAlias = str | Path | TextExamples | ImageExamples | SimilarityExamples


def load_training_texts(data: Source) -> SimilarityExamples:
    """The distinct non-blank texts of `data` (a bundled name, a file, or examples as they are)."""
    from edgeship.sources.datasets import DATASETS
    from edgeship.sources.similarity import FIRST_COLUMNS, SECOND_COLUMNS

    if isinstance(data, str | Path) and str(data) in DATASETS:
        data = DATASETS[str(data)]()
    if isinstance(data, ImageExamples):
        raise DataError(
            f"{data.name} holds images; a feature-extraction student trains on text",
            hint=f"pass {TRAINING_FORMATS}",
        )
    if isinstance(data, TextExamples | SimilarityExamples):
        return _distinct(data.texts, data.name)
    path = Path(data)
    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in (".csv", ".jsonl", ".json"):
        what = "missing" if not path.exists() else "not a .csv or .jsonl file"
        raise DataError(
            f"feature-extraction training data '{path}' is {what}", hint=f"pass {TRAINING_FORMATS}"
        )
    rows = read_csv_rows(path) if suffix == ".csv" else read_jsonl_rows(path)
    columns = set(rows[0][1]) if rows else set()
    pair = [next((c for c in choices if c in columns), None) for choices in (FIRST_COLUMNS, SECOND_COLUMNS)]
    text = next((c for c in TEXT_COLUMNS if c in columns), None)
    if None not in pair:
        wanted = [str(column) for column in pair]  # a scored-pairs file: both texts of each pair
    elif text is not None:
        wanted = [text]
    else:
        raise DataError(
            f"'{path}' has columns {sorted(map(str, columns))}; a feature-extraction student reads texts",
            hint=f"pass {TRAINING_FORMATS}",
        )
    texts = [str(row[c]) for _, row in rows for c in wanted if row.get(c) is not None]
    return _distinct(texts, path.stem)


def load_scored_pairs(data: Source) -> SimilarityExamples:
    """Held-out scored pairs for the per-epoch Spearman: a bundled name, a file, or examples as they are."""
    from edgeship.sources.datasets import DATASETS
    from edgeship.sources.similarity import load_similarity_pairs

    if isinstance(data, str | Path) and str(data) in DATASETS:
        data = DATASETS[str(data)]()
    elif isinstance(data, str | Path):
        data = load_similarity_pairs(Path(data))
    if not isinstance(data, SimilarityExamples) or not data.pairs:
        raise DataError(
            f"eval data {data.name} has no scored pairs; a feature-extraction student is scored by Spearman",
            hint=f"pass --eval-data as {EVAL_FORMATS}",
        )
    return data


def _distinct(texts: list[str], name: str) -> SimilarityExamples:
    """Each non-blank text once, in first-seen order."""
    kept = dict.fromkeys(t for t in (" ".join(text.split()) for text in texts) if t)
    return SimilarityExamples(texts=list(kept), pairs=[], name=name)
