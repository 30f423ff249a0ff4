"""A silver question-answering set: questions templated from spaCy's entities in lee_background news text.

The questions are not human-written. Each is a sentence of its context with one silver entity (see
`edgeship.sources.silver_ner`) replaced by a wh-phrase of its type ("John Howard said ..." becomes "Who
said ...?"), and the entity is the answer. A score on this set measures finding a templated sentence's
missing entity in a context that holds that sentence, not reading comprehension. Contexts are windows of
consecutive sentences of one document: most of SHORT_WINDOW sentences, every LONG_EVERY-th of
LONG_WINDOW (longer than a 128-piece input, so a model reads it in strided windows). Documents are split
as lee_ner's are; held-out documents lose the sentences training documents also have.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from edgeship.sources.data import QuestionExamples
from edgeship.sources.silver_ner import TEST_DOCUMENTS, Sentence, _tagged_documents
from edgeship.sources.squad import Question, question_examples

SHORT_WINDOW = 3
"""Sentences in most contexts (about 100 word pieces; with the question, about 130)."""
LONG_WINDOW = 9
"""Sentences in every LONG_EVERY-th context (about 250 word pieces or more)."""
LONG_EVERY = 5
QUESTIONS_PER_CONTEXT = 5
"""At most this many questions per context, spread over it, so that no long document dominates."""
MIN_QUESTION_WORDS = 4
WH_PHRASES = {"PER": "who", "ORG": "which organisation", "LOC": "which place", "MISC": "what"}
"""The words that stand for an entity of each type in its question."""
DETERMINERS = {"the", "The"}
"""Dropped when just before a replaced entity (not "the which place")."""
CLOSING_PUNCTUATION = set(".!?;:,'\"")

Entity = tuple[int, int, str]
"""(first word, word after the last, type) of an entity in a sentence."""


def load_lee_qa(split: Literal["train", "test"]) -> QuestionExamples:
    """Templated questions on windows of the first 240 lee_background documents (train) or of the last 60
    (test, without the sentences that training documents also have)."""
    documents = _tagged_documents()
    train = documents[:-TEST_DOCUMENTS]
    chosen = train if split == "train" else documents[-TEST_DOCUMENTS:]
    seen = set() if split == "train" else {tuple(words) for document in train for words, _ in document}
    name = "lee_qa" if split == "train" else "lee_qa_test"
    kept = [[sentence for sentence in document if tuple(sentence[0]) not in seen] for document in chosen]
    questions: list[Question] = []
    for number, index, window in _windows(kept):
        questions += _window_questions(window, f"{name} document {number} window {index}")
    return question_examples(questions, name)


def _windows(documents: list[list[Sentence]]) -> Iterator[tuple[int, int, list[Sentence]]]:
    """(document number, window number in it, sentences): each document cut into consecutive windows of
    SHORT_WINDOW sentences, one in LONG_EVERY of LONG_WINDOW (in the next document long enough). A last
    window shorter than SHORT_WINDOW joins the one before it."""
    made = long = 0
    for number, sentences in enumerate(documents):
        windows: list[list[Sentence]] = []
        start = 0
        while start < len(sentences):
            long_due = long * LONG_EVERY <= made and len(sentences) - start >= LONG_WINDOW
            size = LONG_WINDOW if long_due else SHORT_WINDOW
            window = sentences[start : start + size]
            if windows and len(window) < SHORT_WINDOW:
                windows[-1] = windows[-1] + window
            else:
                windows.append(window)
                made, long = made + 1, long + long_due
            start += size
        yield from ((number, index, window) for index, window in enumerate(windows))


def _window_questions(window: list[Sentence], where: str) -> list[Question]:
    """Up to QUESTIONS_PER_CONTEXT questions about the window's unambiguous entities, spread over it."""
    context = " ".join(" ".join(words) for words, _ in window)
    candidates = []
    offset = 0
    for words, tags in window:
        for first, end, kind in _entities(tags):
            answer = " ".join(words[first:end])
            question = _question(words, first, end, kind)
            if context.count(answer) == 1 and len(question.split()) >= MIN_QUESTION_WORDS:
                start = offset + len(" ".join(words[:first])) + (1 if first else 0)
                candidates.append((question, answer, start))
        offset += len(" ".join(words)) + 1
    step = max(1, len(candidates) / QUESTIONS_PER_CONTEXT)
    picked = sorted({int(k * step) for k in range(QUESTIONS_PER_CONTEXT)} & set(range(len(candidates))))
    questions = []
    for k in picked:
        question, answer, start = candidates[k]
        question_id = f"{where} entity {k}"
        answers = {"text": [answer], "answer_start": [start]}
        questions.append(Question(question_id, question_id, question, context, answers))
    return questions


def _entities(tags: list[str]) -> list[Entity]:
    """Each B- tag with the I- tags of its type that follow it."""
    entities = []
    for first, tag in enumerate(tags):
        if tag.startswith("B-"):
            end = first + 1
            while end < len(tags) and tags[end] == f"I-{tag[2:]}":
                end += 1
            entities.append((first, end, tag[2:]))
    return entities


def _question(words: list[str], first: int, end: int, kind: str) -> str:
    """The sentence with words[first:end] replaced by the type's wh-phrase, as a question."""
    before = words[: first - 1] if first and words[first - 1] in DETERMINERS else words[:first]
    after = list(words[end:])
    while after and all(character in CLOSING_PUNCTUATION for character in after[-1]):
        after.pop()
    text = " ".join([*before, WH_PHRASES[kind], *after])
    return text[0].upper() + text[1:] + "?"
