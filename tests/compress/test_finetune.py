"""Fine-tuning a tiny BERT on a separable synthetic task: learning, determinism, length-grouped batching."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from edgeship.compress.finetune import (  # noqa: E402
    FineTuneOptions,
    _length_grouped_batches,
    fine_tune_text_classifier,
    predict_text_classifier,
)
from edgeship.errors import DataError  # noqa: E402
from edgeship.sources.data import TextExamples  # noqa: E402

GOOD = ["good", "great", "wonderful", "superb", "delightful", "brilliant"]
BAD = ["bad", "awful", "terrible", "boring", "dreadful", "dull"]
NOUNS = ["film", "movie", "story", "plot", "cast", "ending", "script", "score"]
FILLER = ["and", "the", "music", "was", "long", "in", "a", "way", "actors", "scenes", "with", "some"]
OPTIONS = FineTuneOptions(epochs=8, batch_size=16, learning_rate=1e-3, max_length=32, seed=0)


def _synthetic(count: int, seed: int, name: str) -> TextExamples:
    """Reviews whose label is whether they use a GOOD or a BAD word, padded with 0-20 filler words."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(count):
        label = rng.randrange(2)
        filler = " ".join(rng.choice(FILLER) for _ in range(rng.randrange(21)))
        texts.append(f"the {rng.choice(NOUNS)} was {rng.choice(GOOD if label else BAD)} {filler}".strip())
        labels.append(label)
    return TextExamples(texts=texts, labels=labels, label_names=["negative", "positive"], name=name)


TRAIN = _synthetic(320, seed=1, name="synthetic-train")
TEST = _synthetic(100, seed=2, name="synthetic-test")


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir: Path) -> Any:
    return transformers.AutoTokenizer.from_pretrained(tokenizer_dir)


def _tiny_bert(tokenizer: Any) -> Any:
    """A fresh 2-layer, 32-wide BERT classifier, always initialised from the same seed."""
    torch.manual_seed(123)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=2,
        attn_implementation="eager",
    )
    return transformers.BertForSequenceClassification(config)


def _mean_loss(model: Any, tokenizer: Any, examples: TextExamples) -> float:
    """Cross-entropy over all examples, in eval mode."""
    model.eval()
    inputs = tokenizer(examples.texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    with torch.inference_mode():
        return model(**inputs, labels=torch.tensor(examples.labels)).loss.item()


@pytest.fixture(scope="module")
def trained(tokenizer: Any) -> tuple[Any, float, dict[str, float]]:
    model = _tiny_bert(tokenizer)
    loss_before = _mean_loss(model, tokenizer, TRAIN)
    result = fine_tune_text_classifier(model, tokenizer, TRAIN, OPTIONS, progress=False)
    return model, loss_before, result


def test_fine_tune_learns_the_task(tokenizer: Any, trained: tuple[Any, float, dict[str, float]]) -> None:
    model, loss_before, result = trained
    assert result["steps"] == OPTIONS.epochs * 20  # 320 examples / batch 16
    assert result["seconds"] > 0
    assert loss_before > 0.6  # untrained: about ln 2
    assert result["final_loss"] < 0.3
    assert _mean_loss(model, tokenizer, TRAIN) < 0.5 * loss_before
    assert not model.training  # left ready for evaluation and export
    predictions = predict_text_classifier(model, tokenizer, TEST, max_length=32)
    assert predictions.dtype == np.int64 and predictions.shape == (len(TEST),)
    assert (predictions == np.array(TEST.labels)).mean() >= 0.9


def test_same_seed_gives_identical_training(
    tokenizer: Any, trained: tuple[Any, float, dict[str, float]]
) -> None:
    first, _, first_result = trained
    second = _tiny_bert(tokenizer)
    torch.manual_seed(987)  # a different global RNG state: fine-tuning must seed dropout itself
    second_result = fine_tune_text_classifier(second, tokenizer, TRAIN, OPTIONS, progress=False)
    assert second_result["final_loss"] == first_result["final_loss"]
    np.testing.assert_array_equal(
        predict_text_classifier(first, tokenizer, TEST, max_length=32),
        predict_text_classifier(second, tokenizer, TEST, max_length=32),
    )
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_predictions_follow_the_examples_order(
    tokenizer: Any, trained: tuple[Any, float, dict[str, float]]
) -> None:
    model = trained[0]
    forward = predict_text_classifier(model, tokenizer, TEST, max_length=32, batch_size=8)
    backward = predict_text_classifier(model, tokenizer, TEST.subset(list(range(len(TEST)))[::-1]), 32, 8)
    np.testing.assert_array_equal(backward, forward[::-1])
    one_by_one = predict_text_classifier(model, tokenizer, TEST, max_length=32, batch_size=1)
    np.testing.assert_array_equal(one_by_one, forward)


def test_batches_are_padded_to_their_own_longest_text(tokenizer: Any) -> None:
    model = _tiny_bert(tokenizer)
    widths: list[int] = []
    model.register_forward_pre_hook(
        lambda _m, _a, kw: widths.append(kw["input_ids"].shape[1]), with_kwargs=True
    )
    options = FineTuneOptions(epochs=1, batch_size=16, max_length=64, seed=0)
    fine_tune_text_classifier(model, tokenizer, TRAIN, options, progress=False)
    assert len(widths) == 20
    assert max(widths) < options.max_length  # the longest synthetic review is about 26 tokens
    assert min(widths) < max(widths) - 10  # short and long reviews land in different batches


def test_length_grouped_batches_cover_every_example_once() -> None:
    rng = random.Random(0)
    lengths = [rng.randrange(2, 60) for _ in range(1000)]
    batches = _length_grouped_batches(lengths, 32, random.Random(0))
    assert sorted(i for batch in batches for i in batch) == list(range(1000))
    assert [len(b) for b in batches].count(32) == 31  # 1000 = 31 x 32 + 8
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches])
    assert spread < 5  # random batches of 32 would span about 50 tokens
    assert batches == _length_grouped_batches(lengths, 32, random.Random(0))
    assert batches != _length_grouped_batches(lengths, 32, random.Random(1))


def test_rejects_labels_the_model_cannot_predict(tokenizer: Any) -> None:
    three_labels = TextExamples(
        texts=["a", "b", "c"], labels=[0, 1, 2], label_names=["x", "y", "z"], name="three"
    )
    with pytest.raises(DataError, match="outside 0..1"):
        fine_tune_text_classifier(_tiny_bert(tokenizer), tokenizer, three_labels, OPTIONS, progress=False)
    empty = TextExamples(texts=[], labels=[], label_names=["x", "y"], name="empty")
    with pytest.raises(DataError, match="no examples"):
        predict_text_classifier(_tiny_bert(tokenizer), tokenizer, empty, max_length=32)
