"""Evaluation and training data: labelled text (CSV / JSONL), images (class-per-folder), scored text pairs."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from edgeship.errors import DataError, EdgeshipError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class TextExamples:
    """Texts with integer labels; `label_names[i]` names label i."""

    texts: list[str]
    labels: list[int]
    label_names: list[str]
    name: str

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: list[int], name: str | None = None) -> TextExamples:
        """The examples at `indices`, in that order."""
        return TextExamples(
            texts=[self.texts[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            label_names=self.label_names,
            name=name or self.name,
        )


@dataclass(frozen=True)
class ImageExamples:
    """Image files with integer labels; `label_names[i]` names label i."""

    paths: list[Path]
    labels: list[int]
    label_names: list[str]
    name: str

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, indices: list[int], name: str | None = None) -> ImageExamples:
        """The examples at `indices`, in that order."""
        return ImageExamples(
            paths=[self.paths[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            label_names=self.label_names,
            name=name or self.name,
        )


@dataclass(frozen=True)
class SimilarityExamples:
    """Texts and human similarity scores of pairs of them (feature-extraction's eval data).

    `pairs[k]` is (index of text 1, index of text 2, score); `labels` is the same as an array."""

    texts: list[str]
    pairs: list[tuple[int, int, float]]
    name: str

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def labels(self) -> np.ndarray:
        """One row per scored pair: (text 1, text 2, score), what the task's metric takes."""
        import numpy as np

        return np.asarray(self.pairs, dtype=np.float64).reshape(-1, 3)

    def subset(self, indices: list[int], name: str | None = None) -> SimilarityExamples:
        """The texts at `indices` (in that order) and the pairs between two of them."""
        position = {old: new for new, old in enumerate(indices)}
        return SimilarityExamples(
            texts=[self.texts[i] for i in indices],
            pairs=[
                (position[a], position[b], s) for a, b, s in self.pairs if a in position and b in position
            ],
            name=name or self.name,
        )


@dataclass(frozen=True)
class TaggedExamples:
    """Sentences as words, each word with one IOB2 tag (token-classification's data).

    `tags[k][j]` is the index in `label_names` of word j of sentence k."""

    words: list[list[str]]
    tags: list[list[int]]
    label_names: list[str]
    name: str

    def __len__(self) -> int:
        return len(self.words)

    @property
    def texts(self) -> list[str]:
        """Each sentence as one text: its words joined by spaces (what a tokenizer splits into words)."""
        return [" ".join(words) for words in self.words]

    @property
    def labels(self) -> list[list[int]]:
        """The tag indices per word of each sentence."""
        return self.tags

    def subset(self, indices: list[int], name: str | None = None) -> TaggedExamples:
        """The sentences at `indices`, in that order."""
        return TaggedExamples(
            words=[self.words[i] for i in indices],
            tags=[self.tags[i] for i in indices],
            label_names=self.label_names,
            name=name or self.name,
        )


@dataclass(frozen=True)
class QuestionExamples:
    """Questions about contexts, each with its gold answers (question-answering's data, SQuAD style).

    `answers[k]` lists (text, character start in `contexts[k]`) pairs: any of them counts as right."""

    questions: list[str]
    contexts: list[str]
    answers: list[list[tuple[str, int]]]
    ids: list[str]
    name: str

    def __len__(self) -> int:
        return len(self.questions)

    @property
    def texts(self) -> list[str]:
        """Each question followed by its context (unlabelled text, e.g. for calibration)."""
        return [
            f"{question} {context}" for question, context in zip(self.questions, self.contexts, strict=True)
        ]

    @property
    def labels(self) -> list[list[tuple[str, int]]]:
        """The gold answers of each question."""
        return self.answers

    def subset(self, indices: list[int], name: str | None = None) -> QuestionExamples:
        """The questions at `indices`, in that order."""
        return QuestionExamples(
            questions=[self.questions[i] for i in indices],
            contexts=[self.contexts[i] for i in indices],
            answers=[self.answers[i] for i in indices],
            ids=[self.ids[i] for i in indices],
            name=name or self.name,
        )


Examples: TypeAlias = TextExamples | ImageExamples | SimilarityExamples | TaggedExamples | QuestionExamples
"""Any task's examples."""

TEXT_COLUMNS = ("text", "sentence", "review", "content")
LABEL_COLUMNS = ("label", "labels", "category", "target")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
CSV_FIELD_LIMIT = 2**30
"""Characters one CSV field may hold: long texts are read whole (tokenization truncates them)."""

JSON_TYPES = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}
"""What JSON calls each value json.loads returns that is not an object."""

NumberedRow = tuple[int, Any]
"""A row of a data file and its line number."""


def load_labelled(path: Path, label_names: list[str]) -> TextExamples | ImageExamples:
    """Read a labelled set: CSV or JSONL with text+label, or a folder with one sub-folder per label."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data '{path}' does not exist", hint="pass a .csv, .jsonl or image folder path")
    if path.is_dir():
        return load_image_folder(path, label_names)
    if path.suffix.lower() == ".csv":
        rows = read_csv_rows(path)
    elif path.suffix.lower() in (".jsonl", ".json"):
        rows = read_jsonl_rows(path)
    else:
        raise DataError(
            f"cannot read '{path}': unknown data format", hint="use .csv, .jsonl or an image folder"
        )
    return _text_examples(rows, label_names, path)


def load_image_folder(root: Path, label_names: list[str]) -> ImageExamples:
    """Images under root/<label>/*.png|jpg; folder names must be the model's labels."""
    lookup = _label_lookup(label_names)
    paths, labels = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        label = _resolve_label(folder.name, lookup, label_names, root)
        for image in sorted(folder.iterdir()):
            if image.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(image)
                labels.append(label)
    if not paths:
        raise DataError(
            f"no images found under '{root}/<label>/'", hint="lay out images as DIR/<label>/<file>.png"
        )
    return ImageExamples(paths=paths, labels=labels, label_names=label_names, name=root.name)


def read_utf8(path: Path, error: type[EdgeshipError] = DataError) -> str:
    """The text of `path` (a leading BOM dropped); a byte that is not UTF-8 is an `error` naming its line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(
            f"{path}:{line}: byte 0x{raw[exc.start]:02x} at offset {exc.start} is not UTF-8",
            hint="re-save the file as UTF-8",
        ) from exc


def read_csv_rows(path: Path) -> list[NumberedRow]:
    """The CSV's rows as dicts by header, each with its (last) line."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.DictReader(io.StringIO(read_utf8(path), newline=""))
    rows: list[NumberedRow] = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise DataError(
            f"{path}:{reader.line_num}: not valid CSV ({exc})", hint="check the quoting of that row"
        ) from exc
    return rows


def read_jsonl_rows(path: Path) -> list[NumberedRow]:
    """The JSON object on each non-blank line, with its line number."""
    rows: list[NumberedRow] = []
    for number, line in enumerate(read_utf8(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}:{number} is not valid JSON ({exc.msg})", hint="one JSON object per line"
            ) from exc
        if not isinstance(row, dict):
            raise DataError(
                f"{path}:{number} is a JSON {JSON_TYPES[type(row)]}, not an object",
                hint='one JSON object per line, e.g. {"text": "...", "label": "..."}',
            )
        rows.append((number, row))
    return rows


def _text_examples(rows: list[NumberedRow], label_names: list[str], path: Path) -> TextExamples:
    if not rows:
        raise DataError(f"'{path}' holds no examples", hint="add rows with a text and a label column")
    columns = set(rows[0][1])
    text_column = next((c for c in TEXT_COLUMNS if c in columns), None)
    label_column = next((c for c in LABEL_COLUMNS if c in columns), None)
    if text_column is None or label_column is None:
        raise DataError(
            f"'{path}' has columns {sorted(map(str, columns))}; need a text column "
            f"({'/'.join(TEXT_COLUMNS)}) and a label column ({'/'.join(LABEL_COLUMNS)})",
            hint="rename the columns",
        )
    lookup = _label_lookup(label_names)
    texts, labels = [], []
    for line, row in rows:
        missing = [column for column in (text_column, label_column) if row.get(column) is None]
        if missing:
            raise DataError(
                f"{path}:{line} has no {' and no '.join(repr(column) for column in missing)}",
                hint=f"give every row a '{text_column}' and a '{label_column}'",
            )
        texts.append(str(row[text_column]))
        labels.append(_resolve_label(row[label_column], lookup, label_names, f"{path}:{line}"))
    return TextExamples(texts=texts, labels=labels, label_names=label_names, name=path.stem)


def _label_lookup(label_names: list[str]) -> dict[str, int]:
    return {name.lower(): index for index, name in enumerate(label_names)}


def _resolve_label(value: Any, lookup: dict[str, int], label_names: list[str], where: Path | str) -> int:
    """A label given as the model's label name (any case) or as an integer index."""
    text = str(value).strip()
    if text.lower() in lookup:
        return lookup[text.lower()]
    if text.lstrip("-").isdigit() and 0 <= int(text) < len(label_names):
        return int(text)
    raise DataError(
        f"label '{text}' in '{where}' is not one of the model's labels {label_names[:10]}",
        hint="use the model's label names or indices 0..N-1",
    )


def examples_digest(examples: Examples) -> str:
    """A digest of the examples' content (texts, or image paths with sizes) and labels."""
    digest = hashlib.sha256()
    if isinstance(examples, SimilarityExamples):
        digest.update("\n".join(examples.texts).encode())
        digest.update(examples.labels.tobytes())
        return digest.hexdigest()[:16]
    if isinstance(examples, QuestionExamples):
        for row in zip(examples.ids, examples.questions, examples.contexts, examples.answers, strict=True):
            digest.update(f"{row}\n".encode())
        return digest.hexdigest()[:16]
    if isinstance(examples, TaggedExamples):
        for words, tags in zip(examples.words, examples.tags, strict=True):
            digest.update(f"{tags}\t{words}\n".encode())
        digest.update("\n".join(examples.label_names).encode())
        return digest.hexdigest()[:16]
    if isinstance(examples, TextExamples):
        items: list[str] = examples.texts
    else:
        items = [f"{path}:{Path(path).stat().st_size}" for path in examples.paths]
    for item, label in zip(items, examples.labels, strict=True):
        digest.update(f"{label}\t{item}\n".encode())
    digest.update("\n".join(examples.label_names).encode())
    return digest.hexdigest()[:16]
