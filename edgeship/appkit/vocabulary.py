"""Read a bundle's Hugging Face tokenizer as the plain WordPiece settings the kit's code implements."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeship.errors import BundleError, UnsupportedModelError

HINT = "the kit's app-side tokenizer implements BERT WordPiece (BertNormalizer, BertPreTokenizer, WordPiece)"


def wordpiece_settings(tokenizer_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """The tokenizer's settings for metadata.json and its vocabulary in id order (one line of vocab.txt each)."""
    path = tokenizer_dir / "tokenizer.json"
    if not path.is_file():
        raise BundleError(
            f"{path} is missing", hint="re-export the bundle; its tokenizer folder is incomplete"
        )
    spec = json.loads(path.read_text(encoding="utf-8"))
    model, normalizer = spec.get("model") or {}, spec.get("normalizer") or {}
    kinds = (model.get("type"), normalizer.get("type"), (spec.get("pre_tokenizer") or {}).get("type"))
    if kinds != ("WordPiece", "BertNormalizer", "BertPreTokenizer"):
        raise UnsupportedModelError(
            f"the app kit supports BERT WordPiece tokenizers; this bundle's is {'/'.join(map(str, kinds))}",
            hint=HINT,
        )
    vocabulary = _vocabulary(model["vocab"])
    config = _tokenizer_config(tokenizer_dir)
    lowercase = bool(normalizer.get("lowercase", True))
    strip_accents = normalizer.get("strip_accents")
    tokens = {
        "unk_token": model.get("unk_token", "[UNK]"),
        "cls_token": config.get("cls_token", "[CLS]"),
        "sep_token": config.get("sep_token", "[SEP]"),
        "pad_token": config.get("pad_token", "[PAD]"),
    }
    index = {token: number for number, token in enumerate(vocabulary)}
    missing = [token for token in tokens.values() if token not in index]
    if missing:
        raise UnsupportedModelError(f"special tokens {missing} are not in the vocabulary", hint=HINT)
    settings = {
        "tokenizer": "wordpiece",
        "vocab_file": "vocab.txt",
        "vocab_size": len(vocabulary),
        "clean_text": bool(normalizer.get("clean_text", True)),
        "handle_chinese_chars": bool(normalizer.get("handle_chinese_chars", True)),
        "strip_accents": lowercase if strip_accents is None else bool(strip_accents),
        "lowercase": lowercase,
        "continuing_subword_prefix": model.get("continuing_subword_prefix", "##"),
        "max_input_chars_per_word": int(model.get("max_input_chars_per_word", 100)),
        **tokens,
        **{name.replace("_token", "_id"): index[token] for name, token in tokens.items()},
        "padding": "max_length",
        "truncation": "right",
    }
    return settings, vocabulary


def _vocabulary(vocab: dict[str, int]) -> list[str]:
    by_id = sorted(vocab.items(), key=lambda item: item[1])
    if [number for _, number in by_id] != list(range(len(by_id))):
        raise UnsupportedModelError("the WordPiece vocabulary's ids are not 0..N-1", hint=HINT)
    bad = [token for token, _ in by_id if "\n" in token or "\r" in token]
    if bad:
        raise UnsupportedModelError(f"vocabulary tokens contain line breaks: {bad[:3]}", hint=HINT)
    return [token for token, _ in by_id]


def _tokenizer_config(tokenizer_dir: Path) -> dict[str, Any]:
    path = tokenizer_dir / "tokenizer_config.json"
    if not path.is_file():
        return {}
    config = json.loads(path.read_text(encoding="utf-8"))
    return {key: value for key, value in config.items() if isinstance(value, str)}
