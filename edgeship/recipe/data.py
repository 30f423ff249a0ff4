"""The recipe's data: train / eval / calibration examples, cut deterministically, with content digests."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from edgeship.recipe.schema import Data
from edgeship.sources.data import (
    ImageExamples,
    QuestionExamples,
    SimilarityExamples,
    TaggedExamples,
    TextExamples,
)

Examples: TypeAlias = TextExamples | ImageExamples | SimilarityExamples | TaggedExamples | QuestionExamples


@dataclass(frozen=True)
class RecipeData:
    """The three sets a recipe trains, scores and calibrates on."""

    train: Examples
    eval: Examples
    calibration: Examples


def load_recipe_data(data: Data, labels: list[str] | None, task: str | None = None) -> RecipeData:
    """Load `data.train` (a bundled dataset or a path), hold out or load eval, pick calibration."""
    from edgeship.errors import DataError
    from edgeship.pipeline.distill import load_examples, load_tagged_words
    from edgeship.sources.datasets import DATASETS, split_examples

    if task == "feature-extraction":
        return _embedding_data(data)
    if task == "question-answering":
        return _question_data(data)
    tagged = task == "token-classification"
    if not labels and not tagged and data.train not in DATASETS:
        raise DataError(
            f"the labels in {data.train} cannot be read without label names",
            hint="give teacher.labels (the new head's labels when the teacher is fine-tuned)",
        )
    read = load_tagged_words if tagged else load_examples
    everything = read(data.train, labels or [])
    if data.eval is None:
        train, evaluation = split_examples(everything, data.eval_samples, data.train_samples, data.seed)
    else:
        train = _shuffled_head(everything, data.train_samples or len(everything), data.seed)
        evaluation = read(data.eval, everything.label_names)
        evaluation = evaluation.subset(list(range(min(data.eval_samples, len(evaluation)))))
    evaluation = dataclasses.replace(evaluation, name=_dataset_name(data.eval or data.train))
    calibration = read(data.calibration, everything.label_names) if data.calibration else train
    return RecipeData(train, evaluation, calibration)


def _embedding_data(data: Data) -> RecipeData:
    """A sentence encoder's data: unlabelled training texts (`train`, also the calibration default) and
    scored pairs (`eval`, required: there is nothing to hold out of unscored texts)."""
    from edgeship.recipe.load import RecipeError
    from edgeship.sources.corpus import EVAL_FORMATS, load_scored_pairs, load_training_texts

    if data.eval is None:
        raise RecipeError(
            "data.eval is missing: a feature-extraction recipe is scored on human-rated text pairs",
            hint=f"set data.eval to {EVAL_FORMATS}",
        )
    train = load_training_texts(data.train)
    train = _shuffled_head(train, data.train_samples or len(train), data.seed)
    evaluation = load_scored_pairs(data.eval)
    evaluation = dataclasses.replace(evaluation, name=_dataset_name(data.eval))
    calibration = load_training_texts(data.calibration) if data.calibration else train
    return RecipeData(train, evaluation, calibration)


def _question_data(data: Data) -> RecipeData:
    """Questions with answers: `train` (also the calibration default) and `eval`, held out of train by
    context (a context's questions stay on one side) when not given."""
    train = load_questions(data.train)
    if data.eval is None:
        train, evaluation = _split_by_context(train, data.eval_samples, data.seed)
    else:
        evaluation = load_questions(data.eval)
        evaluation = evaluation.subset(list(range(min(data.eval_samples, len(evaluation)))))
    train = _shuffled_head(train, data.train_samples or len(train), data.seed)
    evaluation = dataclasses.replace(evaluation, name=_dataset_name(data.eval or data.train))
    calibration = load_questions(data.calibration) if data.calibration else train
    return RecipeData(train, evaluation, calibration)


def load_questions(spec: str) -> QuestionExamples:
    """A bundled question set by name, or a SQuAD JSON / JSONL file."""
    from edgeship.errors import DataError
    from edgeship.sources.datasets import DATASETS
    from edgeship.sources.squad import FORMATS
    from edgeship.sources.squad import load_questions as read_questions

    if spec in DATASETS and not Path(spec).exists():
        examples = DATASETS[spec]()
        if not isinstance(examples, QuestionExamples):
            raise DataError(f"{spec} is not a question-answering dataset", hint=f"pass {FORMATS}")
        return examples
    return read_questions(Path(spec))


def _split_by_context(
    examples: QuestionExamples, eval_questions: int, seed: int
) -> tuple[QuestionExamples, QuestionExamples]:
    """About `eval_questions` questions held out whole contexts at a time (shuffled by `seed`)."""
    questions_of = Counter(examples.contexts)
    contexts = sorted(questions_of)
    random.Random(seed).shuffle(contexts)
    held: set[str] = set()
    for context in contexts:
        if sum(questions_of[c] for c in held) >= eval_questions:
            break
        held.add(context)
    train = [i for i, context in enumerate(examples.contexts) if context not in held]
    evaluation = [i for i, context in enumerate(examples.contexts) if context in held]
    return examples.subset(train), examples.subset(evaluation)


def _shuffled_head(examples: Examples, count: int, seed: int) -> Examples:
    """The first `count` examples after a `random.Random(seed)` shuffle (the order split_examples uses)."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    return examples.subset(order[:count])


def _dataset_name(spec: str) -> str:
    """What the manifest records as `evaluated_on.dataset`: the dataset name or the file's stem."""
    return Path(spec).stem if ("/" in spec or "." in spec) else spec
