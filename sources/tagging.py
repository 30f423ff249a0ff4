"""Words with IOB2 tags for token classification: JSONL (tokens + ner_tags) and CoNLL files.

A tag is `O`, `B-TYPE` (first word of an entity) or `I-TYPE` (a later word of it). Tags are given by name
or, against a model's labels, by index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeship.errors import DataError
from edgeship.sources.data import NumberedRow, TaggedExamples, read_jsonl_rows, read_utf8

WORD_COLUMNS = ("tokens", "words")
TAG_COLUMNS = ("ner_tags", "tags", "labels")
CONLL_SUFFIXES = (".conll", ".conllu", ".iob", ".bio", ".txt")
FORMATS = (
    "JSONL with a tokens and a ner_tags list per line (IOB2 tags: O, B-PER, I-PER, ...), "
    "a CoNLL file (one 'word ... tag' per line, a blank line between sentences), "
    "or a bundled dataset name (lee_ner, lee_ner_test: silver entities of news text)"
)
"""What token-classification data may be."""


def load_tagged(path: Path, label_names: list[str]) -> TaggedExamples:
    """Read tagged sentences; tags resolve against `label_names` (a model's), or make them when empty."""
    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "missing"
        raise DataError(f"token-classification data '{path}' is {what}", hint=f"pass {FORMATS}")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        sentences = _jsonl_sentences(read_jsonl_rows(path), path)
    elif suffix in CONLL_SUFFIXES:
        sentences = _conll_sentences(read_utf8(path), path)
    else:
        raise DataError(
            f"token-classification data '{path}' is a {suffix or 'suffix-less'} file", hint=f"pass {FORMATS}"
        )
    if not sentences:
        raise DataError(f"'{path}' holds no sentences", hint=f"pass {FORMATS}")
    return tagged_examples(sentences, label_names, path.stem)


def tagged_examples(
    sentences: list[tuple[str, list[str], list[Any]]], label_names: list[str], name: str
) -> TaggedExamples:
    """Examples from (where, words, tags) sentences: tags checked as IOB2 and turned into indices."""
    names = label_names or _tag_set(sentences)
    lookup = {tag: index for index, tag in enumerate(names)}
    words, tags = [], []
    for where, sentence_words, sentence_tags in sentences:
        indices = []
        for tag in sentence_tags:
            text = str(tag).strip()
            if text.isdigit() and label_names and int(text) < len(label_names):
                indices.append(int(text))
            elif text in lookup:
                indices.append(lookup[text])
            else:
                raise DataError(
                    f"{where}: tag '{text}' is not one of the model's tags {names[:9]}",
                    hint="use the model's IOB2 tag names (or their indices), or train a model on these tags",
                )
        words.append(sentence_words)
        tags.append(indices)
    return TaggedExamples(words=words, tags=tags, label_names=names, name=name)


def _tag_set(sentences: list[tuple[str, list[str], list[Any]]]) -> list[str]:
    """The tags the data uses, O first, then each entity type's B- and I- tag, types sorted."""
    types: set[str] = set()
    for where, _, tags in sentences:
        for tag in tags:
            text = str(tag).strip()
            if text != "O" and not (text[:2] in ("B-", "I-") and len(text) > 2):
                raise DataError(
                    f"{where}: tag '{text}' is not an IOB2 tag",
                    hint="tag each word O, B-TYPE (an entity's first word) or I-TYPE (its later words)",
                )
            if text != "O":
                types.add(text[2:])
    return ["O"] + [f"{prefix}-{kind}" for kind in sorted(types) for prefix in ("B", "I")]


def _jsonl_sentences(rows: list[NumberedRow], path: Path) -> list[tuple[str, list[str], list[Any]]]:
    """(where, words, tags) of each JSONL row with a words list and an equally long tags list."""
    if not rows:
        return []
    columns = set(rows[0][1])
    word_column = next((c for c in WORD_COLUMNS if c in columns), None)
    tag_column = next((c for c in TAG_COLUMNS if c in columns), None)
    if word_column is None or tag_column is None:
        raise DataError(
            f"'{path}' has columns {sorted(map(str, columns))}; token-classification reads words with "
            f"IOB2 tags ({'/'.join(WORD_COLUMNS)} and {'/'.join(TAG_COLUMNS)} lists)",
            hint=f"pass {FORMATS}",
        )
    sentences = []
    for line, row in rows:
        words, tags = row.get(word_column), row.get(tag_column)
        if not isinstance(words, list) or not isinstance(tags, list) or len(words) != len(tags):
            raise DataError(
                f"{path}:{line}: '{word_column}' and '{tag_column}' must be lists of the same length",
                hint="give one tag per word",
            )
        if words:
            sentences.append((f"{path}:{line}", [str(word) for word in words], tags))
    return sentences


def _conll_sentences(text: str, path: Path) -> list[tuple[str, list[str], list[Any]]]:
    """(where, words, tags) per blank-line-separated block: the first column is the word, the last the tag."""
    sentences: list[tuple[str, list[str], list[Any]]] = []
    words: list[str] = []
    tags: list[str] = []
    start = 1
    for number, line in enumerate([*text.splitlines(), ""], start=1):
        fields = line.split()
        if fields and fields[0] == "-DOCSTART-":
            continue
        if not fields:
            if words:
                sentences.append((f"{path}:{start}", words, tags))
            words, tags, start = [], [], number + 1
            continue
        if len(fields) < 2:
            raise DataError(
                f"{path}:{number}: '{line.strip()}' has no tag",
                hint="write one word and its IOB2 tag per line, separated by a space or a tab",
            )
        if not words:
            start = number
        words.append(fields[0])
        tags.append(fields[-1])
    return sentences
