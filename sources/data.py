"""Labelled evaluation and training data: text (CSV / JSONL) and images (class-per-folder)."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeship.errors import DataError


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


TEXT_COLUMNS = ("text", "sentence", "review", "content")
LABEL_COLUMNS = ("label", "labels", "category", "target")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def load_labelled(path: Path, label_names: list[str]) -> TextExamples | ImageExamples:
    """Read a labelled set: CSV or JSONL with text+label, or a folder with one sub-folder per label."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data '{path}' does not exist", hint="pass a .csv, .jsonl or image folder path")
    if path.is_dir():
        return load_image_folder(path, label_names)
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    elif path.suffix.lower() in (".jsonl", ".json"):
        rows = _read_jsonl(path)
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


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}:{number} is not valid JSON ({exc.msg})", hint="one JSON object per line"
            ) from exc
    return rows


def _text_examples(rows: list[dict[str, Any]], label_names: list[str], path: Path) -> TextExamples:
    if not rows:
        raise DataError(f"'{path}' holds no examples", hint="add rows with a text and a label column")
    columns = set(rows[0])
    text_column = next((c for c in TEXT_COLUMNS if c in columns), None)
    label_column = next((c for c in LABEL_COLUMNS if c in columns), None)
    if text_column is None or label_column is None:
        raise DataError(
            f"'{path}' has columns {sorted(columns)}; need a text column ({'/'.join(TEXT_COLUMNS)}) "
            f"and a label column ({'/'.join(LABEL_COLUMNS)})",
            hint="rename the columns",
        )
    lookup = _label_lookup(label_names)
    texts = [str(row[text_column]) for row in rows]
    labels = [_resolve_label(row[label_column], lookup, label_names, path) for row in rows]
    return TextExamples(texts=texts, labels=labels, label_names=label_names, name=path.stem)


def _label_lookup(label_names: list[str]) -> dict[str, int]:
    return {name.lower(): index for index, name in enumerate(label_names)}


def _resolve_label(value: Any, lookup: dict[str, int], label_names: list[str], where: Path) -> int:
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


def examples_digest(examples: TextExamples | ImageExamples) -> str:
    """A digest of the examples' content (texts, or image paths with sizes) and labels."""
    digest = hashlib.sha256()
    if isinstance(examples, TextExamples):
        items: list[str] = examples.texts
    else:
        items = [f"{path}:{Path(path).stat().st_size}" for path in examples.paths]
    for item, label in zip(items, examples.labels, strict=True):
        digest.update(f"{label}\t{item}\n".encode())
    digest.update("\n".join(examples.label_names).encode())
    return digest.hexdigest()[:16]
