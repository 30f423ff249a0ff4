"""token-classification end to end: IOB2 data (JSONL, CoNLL, the silver lee_ner set), tags at each word's
first piece, entity F1 as seqeval counts it, a tiny tagger trained here exported and scored alike by
PyTorch, ONNX Runtime and LiteRT, int8 within the budget, and one-line refusals of the wrong input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeship.bundle import Bundle
from edgeship.errors import DataError
from edgeship.sources.data import TaggedExamples
from edgeship.sources.preprocess import encode_words
from edgeship.sources.tagging import load_tagged
from edgeship.tasks.base import get_task
from edgeship.tasks.token_classification_task import IGNORED
from tests.conftest import run_cli, write_tagged_jsonl

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def _logits(tags: list[list[int]], width: int) -> np.ndarray:
    """One-hot logits for tag rows, padded with zero rows to `width` positions."""
    logits = np.zeros((len(tags), width, len(TAGS)), dtype=np.float32)
    for row, row_tags in enumerate(tags):
        for position, tag in enumerate(row_tags):
            logits[row, position, tag] = 5.0
    return logits


def test_entity_f1_counts_entities_as_seqeval_does() -> None:
    task = get_task("token-classification").with_labels(TAGS)
    gold = [[1, 2, 0, 5], [3, 0, 0, 0]]  # B-PER I-PER O B-LOC / B-ORG O O O: three entities
    labels = np.asarray(gold)
    assert task.score(_logits(gold, 4), labels) == 1.0
    # the person cut short (B-PER O) and the ORG missed: 1 of 3 right, 1 of 2 predicted right
    guess = [[1, 0, 0, 5], [0, 0, 0, 0]]
    precision, recall = 1 / 2, 1 / 3
    expected = 2 * precision * recall / (precision + recall)
    assert task.score(_logits(guess, 4), labels) == pytest.approx(expected)
    # positions labelled IGNORED (later pieces, padding) are not scored
    masked = np.asarray([[1, IGNORED, 0, 5], [3, 0, 0, IGNORED]])
    assert task.score(_logits([[1, 8, 0, 5], [3, 0, 0, 7]], 4), masked) == 1.0


def test_agreement_ignores_padding() -> None:
    task = get_task("token-classification")
    reference = _logits([[1, 2, 0]], 6)
    other = reference.copy()
    other[0, 4, 3] = 9.0  # a padded position (reference row all zero) differs: not counted
    assert task.agreement(other, reference) == 1.0
    other[0, 1] = 0.0
    other[0, 1, 0] = 9.0  # a real token differs: 2 of 3 agree
    assert task.agreement(other, reference) == pytest.approx(2 / 3)


def test_words_are_tagged_at_their_first_piece(tokenizer_dir: Path) -> None:
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer_dir)
    words = [["Mittagong", "is", "near", "Goulburn", "."]]
    inputs, labels = encode_words(tokenizer, words, [[5, 0, 0, 5, 0]], 16, ["input_ids", "attention_mask"])
    pieces = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    assert pieces[:3] == ["[CLS]", "mit", "##tag"]  # a word of several pieces
    scored = [(pieces[i], int(labels[0, i])) for i in range(16) if labels[0, i] != IGNORED]
    assert scored == [("mit", 5), ("is", 0), ("near", 0), ("go", 5), (".", 0)]
    assert labels[0, 0] == IGNORED and inputs["attention_mask"][0].sum() < 16  # CLS and padding not scored


def test_jsonl_and_conll_read_alike(tmp_path: Path) -> None:
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(json.dumps({"tokens": ["Mary", "Jones", "left"], "ner_tags": ["B-PER", "I-PER", "O"]}))
    conll = tmp_path / "a.conll"
    conll.write_text("-DOCSTART- O\n\nMary NNP B-PER\nJones NNP I-PER\nleft VBD O\n\n")
    first, second = load_tagged(jsonl, TAGS), load_tagged(conll, TAGS)
    assert first.words == second.words == [["Mary", "Jones", "left"]]
    assert first.tags == second.tags == [[1, 2, 0]]
    own = load_tagged(conll, [])  # no model yet: the data's own tag set, O first
    assert own.label_names == ["O", "B-PER", "I-PER"]


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("text,label\nhello,1\n", ".csv", "is a .csv file"),
        ('{"text": "hi", "label": 1}\n', ".jsonl", "token-classification reads words with IOB2 tags"),
        ('{"tokens": ["a", "b"], "ner_tags": ["O"]}\n', ".jsonl", "must be lists of the same length"),
        ("Paris LOC\n", ".conll", "tag 'LOC' is not an IOB2 tag"),
        ("Paris\n", ".conll", "'Paris' has no tag"),
    ],
)
def test_malformed_tagged_data_is_refused(tmp_path: Path, content: str, suffix: str, message: str) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_tagged(path, [])


def test_a_tag_the_model_lacks_is_named(tmp_path: Path) -> None:
    path = tmp_path / "d.conll"
    path.write_text("Paris B-GPE\n")
    with pytest.raises(DataError, match=r"d.conll:1: tag 'B-GPE' is not one of the model's tags"):
        load_tagged(path, TAGS)


def test_silver_lee_ner_is_spacy_tagged_news_split_by_document() -> None:
    from edgeship.sources.datasets import DATASETS

    train, test = DATASETS["lee_ner"](), DATASETS["lee_ner_test"]()
    assert isinstance(train, TaggedExamples) and train.label_names == TAGS
    assert len(train) > 2000 and len(test) > 500  # 240 and 60 of the 300 lee_background documents
    assert not set(map(tuple, train.words)) & set(map(tuple, test.words))
    counts = np.bincount([tag for tags in test.tags for tag in tags], minlength=len(TAGS))
    assert all(counts[TAGS.index(f"B-{kind}")] > 100 for kind in ("PER", "ORG", "LOC", "MISC"))


@pytest.fixture(scope="module")
def trained_tagger(tmp_path_factory: pytest.TempPathFactory, tagger_dir: Path) -> tuple[Path, Path]:
    """The tiny tagger fine-tuned here on templated sentences, and a held-out JSONL of 60 others."""
    import torch
    import transformers

    from edgeship.compress.finetune import FineTuneOptions
    from edgeship.compress.finetune_tokens import fine_tune_token_classifier

    folder = tmp_path_factory.mktemp("tagger")
    train = load_tagged(write_tagged_jsonl(folder / "train.jsonl", 240, seed=0), TAGS)
    torch.manual_seed(0)
    model = transformers.AutoModelForTokenClassification.from_pretrained(tagger_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tagger_dir)
    options = FineTuneOptions(epochs=4, batch_size=16, learning_rate=2e-3, max_length=32)
    fine_tune_token_classifier(model, tokenizer, train, options, progress=False)
    model.save_pretrained(folder / "model")
    tokenizer.save_pretrained(folder / "model")
    return folder / "model", write_tagged_jsonl(folder / "test.jsonl", 60, seed=1)


def test_trained_tagger_exports_and_scores_alike_everywhere(
    trained_tagger: tuple[Path, Path], tmp_path: Path
) -> None:
    import transformers

    from edgeship.compress.finetune_tokens import predict_token_classifier

    model_dir, test_file = trained_tagger
    out = tmp_path / "bundle"
    for artifact_format in ("onnx", "tflite"):
        result = run_cli(
            "export", str(model_dir), "--format", artifact_format, "--max-length", "32", "--out", str(out)
        )
        assert result.returncode == 0, result.stdout + result.stderr
    manifest = Bundle.open(out).manifest
    assert manifest.source.task == "token-classification" and manifest.source.labels == TAGS
    onnx_output = manifest.variant("onnx-fp32").outputs or manifest.outputs
    assert [tensor.shape for tensor in onnx_output] == [["batch", "sequence", 9]]

    result = run_cli("eval", str(out), "--data", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
    model = transformers.AutoModelForTokenClassification.from_pretrained(model_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    logits, labels = predict_token_classifier(model, tokenizer, load_tagged(test_file, TAGS), 32)
    pytorch_f1 = get_task("token-classification").with_labels(TAGS).score(logits, labels)
    assert pytorch_f1 > 0.9  # names in unseen combinations: the tagger learnt the names and contexts
    manifest = Bundle.open(out).manifest
    for variant_id in ("onnx-fp32", "tflite-fp32"):
        variant = manifest.variant(variant_id)
        assert variant.evaluated_on is not None and variant.evaluated_on.metric == "f1"
        assert variant.accuracy == pytest.approx(pytorch_f1, abs=1e-9)

    result = run_cli("quantize", str(out), "--scheme", "int8-dynamic", "--eval-data", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
    int8 = Bundle.open(out).manifest.variant("onnx-int8-dynamic")
    assert int8.accuracy is not None and pytorch_f1 - int8.accuracy <= 0.01  # within 1 point
    assert int8.eval_agreement is not None and int8.eval_agreement >= 0.98  # tags of real tokens


def test_wrong_data_for_a_tagger_is_refused_in_one_line(tagger_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = run_cli("export", str(tagger_dir), "--max-length", "16", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("text,label\nhello,1\n")
    result = run_cli("eval", str(out), "--data", str(labelled))
    assert result.returncode == 1
    assert "token-classification data" in result.stderr and "CoNLL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli("eval", str(out), "--data", "rotten_tomatoes")
    assert result.returncode == 1
    assert "rotten_tomatoes is labelled data, which token-classification cannot be scored on" in result.stderr
