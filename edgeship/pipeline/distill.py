"""The distill step: teacher + data (labelled, tagged words for a token classifier, questions with answers
for extractive QA, or plain text for a sentence encoder) -> trained student -> a student bundle (ONNX fp32,
role student)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeAlias

from edgeship.bundle import Bundle, prepare_output, write_text_atomic
from edgeship.console import console, step
from edgeship.errors import DataError, DistillError
from edgeship.sources.data import (
    ImageExamples,
    QuestionExamples,
    SimilarityExamples,
    TaggedExamples,
    TextExamples,
    examples_digest,
)
from edgeship.sources.model_source import ModelSource
from edgeship.step_options import RUN_ONLY_OPTIONS, DistillOptions, DistillStep

STUDENT_DIR = "student"
RECORD_FILE = "distill.json"
MIN_EXAMPLES = 16
EVAL_FRACTION = 0.1
POOLING_DIR = "1_Pooling"
"""Where a sentence-transformers directory declares its pooling (what load_model reads back)."""
CLASSIFIER_ONLY_OPTIONS = {"alpha": "--alpha", "temperature": "--temperature"}
"""Soft/hard-target options, which a feature-extraction student (no logits, no labels) cannot take."""

Data: TypeAlias = (
    str | Path | TextExamples | ImageExamples | SimilarityExamples | TaggedExamples | QuestionExamples
)
SHAPES = {
    TextExamples: "texts with one label each",
    ImageExamples: "images",
    SimilarityExamples: "texts or text pairs",
    TaggedExamples: "tagged words",
    QuestionExamples: "questions with answers",
}
"""What each kind of examples holds, as a refusal names it."""


@dataclass
class DistillResult:
    """The student bundle and what the run measured."""

    bundle: Bundle
    record: dict[str, Any]


def load_examples(data: Data, labels: list[str]) -> TextExamples | ImageExamples:
    """A dataset name (rotten_tomatoes), a CSV/JSONL/image folder path, or examples as they are."""
    from edgeship.sources.data import load_labelled
    from edgeship.sources.datasets import DATASETS

    if isinstance(
        data, TextExamples | ImageExamples | SimilarityExamples | TaggedExamples | QuestionExamples
    ):
        examples = data
    elif str(data) in DATASETS:
        examples = DATASETS[str(data)]()
    else:
        examples = load_labelled(Path(data), labels)
    if isinstance(examples, SimilarityExamples | TaggedExamples | QuestionExamples):
        raise DataError(
            f"{examples.name} holds {SHAPES[type(examples)]}, "
            "not a class label per example; a classifier's student needs labelled examples",
            hint="pass a CSV/JSONL with text and label columns, an image folder, or rotten_tomatoes",
        )
    _check_enough(examples)
    return examples


def load_tagged_words(data: Data, tags: list[str]) -> TaggedExamples:
    """A token classifier's data: a bundled tagged set (lee_ner), a JSONL/CoNLL file or examples as they are,
    its tags as indices into the teacher's `tags` (none given: the data's own); other shapes are refused."""
    from edgeship.sources.datasets import DATASETS
    from edgeship.sources.tagging import FORMATS, load_tagged, tagged_examples

    if isinstance(data, str | Path) and str(data) in DATASETS:
        data = DATASETS[str(data)]()
    if isinstance(data, str | Path):
        return load_tagged(Path(data), tags)
    if not isinstance(data, TaggedExamples):
        raise DataError(
            f"{data.name} holds {SHAPES[type(data)]}; a token-classification student learns a tag per word",
            hint=f"pass {FORMATS}",
        )
    if not tags or data.label_names == tags:  # no teacher tags yet (a head to fine-tune): the data's
        return data
    sentences = [  # the same tags by name, as indices into the teacher's (refusing tags it has not)
        (f"{data.name} sentence {number}", words, [data.label_names[i] for i in indices])
        for number, (words, indices) in enumerate(zip(data.words, data.tags, strict=True))
    ]
    return tagged_examples(sentences, tags, data.name)


def load_questions_data(data: Data) -> QuestionExamples:
    """An extractive QA model's data: a bundled question set (lee_qa), a SQuAD JSON / JSONL file or
    examples as they are; other shapes are refused naming the formats."""
    from edgeship.sources.datasets import DATASETS
    from edgeship.sources.squad import load_questions
    from edgeship.tasks.base import get_task

    if isinstance(data, str | Path) and str(data) in DATASETS:
        data = DATASETS[str(data)]()
    if isinstance(data, str | Path):
        return load_questions(Path(data))
    if not isinstance(data, QuestionExamples):
        raise DataError(
            f"{data.name} holds {SHAPES[type(data)]}; a question-answering student learns the answer span "
            "of a context for each question",
            hint=f"pass {' or '.join(get_task('question-answering').data_formats)}",
        )
    return data


def _check_enough(
    examples: TextExamples | ImageExamples | SimilarityExamples | TaggedExamples | QuestionExamples,
) -> None:
    if len(examples) < MIN_EXAMPLES:
        raise DataError(
            f"{examples.name} has {len(examples)} examples; distillation needs at least {MIN_EXAMPLES}",
            hint="pass more training examples",
        )


def _training_data(
    teacher: Any, data: Data, eval_data: Data | None, options: DistillOptions
) -> tuple[Any, Any]:
    """(train, held-out) examples as the teacher's task reads them: labelled, tagged words, or texts and
    scored pairs."""
    from edgeship.compress.distill.registry import learns_embeddings
    from edgeship.sources.corpus import TRAINING_FORMATS, load_scored_pairs, load_training_texts
    from edgeship.tasks.base import get_task

    if get_task(teacher.task).data_kind == "questions":
        questions = load_questions_data(data)
        _check_enough(questions)
        if eval_data is None:
            return _hold_out(questions, options.seed)
        return questions, load_questions_data(eval_data)
    if get_task(teacher.task).data_kind == "tagged-words":
        tagged = load_tagged_words(data, teacher.labels)
        _check_enough(tagged)
        if eval_data is None:
            return _hold_out(tagged, options.seed)
        return tagged, load_tagged_words(eval_data, teacher.labels)
    if not learns_embeddings(teacher):
        train = load_examples(data, teacher.labels)
        if eval_data is None:
            return _hold_out(train, options.seed)
        return train, load_examples(eval_data, teacher.labels)
    given = [flag for name, flag in CLASSIFIER_ONLY_OPTIONS.items() if getattr(options, name) is not None]
    if given:
        raise DistillError(
            f"{' and '.join(given)} weigh soft and hard class targets; a feature-extraction student learns "
            "the teacher's sentence embeddings (cosine + MSE), with no labels",
            hint=f"drop {' and '.join(given)}; --data takes {TRAINING_FORMATS}",
        )
    train = load_training_texts(data)
    _check_enough(train)
    return train, None if eval_data is None else load_scored_pairs(eval_data)


def run_distill(step: DistillStep) -> DistillResult:
    """`edgeship distill` and `edgeship.distill`: the step's options applied."""
    return distill_to_bundle(
        step.teacher,
        step.data,
        step.out,
        step.narrow(DistillOptions),
        eval_data=step.eval_data,
        teacher_checkpoint=step.teacher_checkpoint,
    )


def distill_to_bundle(
    teacher_spec: str,
    data: Data,
    out: Path,
    options: DistillOptions,
    *,
    eval_data: Data | None = None,
    teacher_checkpoint: Path | None = None,
    teacher_name: str | None = None,
    progress: bool = True,
) -> DistillResult:
    """Build and train a student of `teacher_spec`, save it and export it into the new bundle `out`.

    A sentence-encoder teacher (feature-extraction) takes unlabelled texts as `data` and scored pairs as
    `eval_data` (no default: without it the run reports no Spearman); a token classifier takes tagged words
    for both and reports entity F1; an extractive QA model takes questions with answers and reports SQuAD
    F1."""
    from edgeship.compress.distill.checkpoint import run_fingerprint
    from edgeship.compress.distill.estimate import count_parameters, estimate_macs
    from edgeship.compress.distill.registry import StudentOptions, build_student
    from edgeship.compress.distill.trainer import TrainOptions, distill
    from edgeship.sources.loading import load_model

    prepare_output(out)
    with step(f"Loading the teacher {teacher_spec}"):
        teacher = load_model(teacher_spec, checkpoint=teacher_checkpoint)
        teacher.check_max_length(options.max_length)
    teacher.source = teacher_name or teacher.source
    train, evaluation = _training_data(teacher, data, eval_data, options)
    student_options = StudentOptions(
        layers=options.layers,
        hidden_size=options.hidden_size,
        variant=options.variant,
        config=options.student_config,
        seed=options.seed,
    )
    with step(f"Building a {options.family} student"):
        student = build_student(options.family, teacher, student_options)
    losses = student.losses.with_overrides(
        soft=options.alpha,
        hard=None if options.alpha is None else 1.0 - options.alpha,
        temperature=options.temperature,
        hidden=options.hidden_weight,
        attention=options.attention_weight,
        hidden_loss=options.hidden_loss,
    )
    train_options = TrainOptions(
        epochs=options.epochs,
        batch_size=options.batch_size,
        learning_rate=options.lr,
        max_length=options.max_length,
        seed=options.seed,
        checkpoint_every=options.checkpoint_every,
        mixed_precision=options.mixed_precision,  # type: ignore[arg-type]
    )
    fingerprint = run_fingerprint(
        teacher=teacher.source,
        options=options.model_dump(mode="json", exclude=set(RUN_ONLY_OPTIONS)),
        losses=asdict(losses),
        data=examples_digest(train),
    )
    modality = student.modality
    size = tuple(teacher.image_preprocessing.size) if teacher.image_preprocessing else (224, 224)
    measures = {
        "teacher_parameters": count_parameters(teacher.model),
        "student_parameters": count_parameters(student.model),
        "teacher_macs": estimate_macs(
            teacher.model, modality, sequence_length=options.max_length, image_size=size
        ),
        "student_macs": estimate_macs(
            student.model, modality, sequence_length=options.max_length, image_size=size
        ),
    }
    console.print(
        f"Student {student.description}: {measures['student_parameters'] / 1e6:.2f}M parameters "
        f"({measures['student_parameters'] / measures['teacher_parameters']:.0%} of the teacher), "
        f"{measures['student_macs'] / 1e6:.0f}M MACs at batch 1"
    )
    result = distill(
        teacher,
        student,
        losses,
        train,
        evaluation,
        train_options,
        fingerprint=fingerprint,
        checkpoint_dir=options.checkpoint_dir or out.parent / f"{out.name}.checkpoints",
        resume=options.resume,
        progress=progress,
    )
    record = {
        "teacher": teacher.source,
        "student": options.family,
        "description": student.description,
        "initialised_from": student.initialised_from,
        "losses": asdict(losses),
        "options": options.model_dump(mode="json"),
        **measures,
        "steps": result.steps,
        "resumed_from": result.resumed_from,
        "final_loss": result.final_loss,
        "eval_metric": result.eval_metric,
        "eval_scores": result.eval_scores,
        **({"eval_accuracy": result.eval_scores} if result.eval_metric == "accuracy" else {}),
        "eval_samples": len(evaluation) if evaluation is not None else 0,
        "train_samples": len(train),
        "seconds": result.seconds,
    }
    bundle = _write_bundle(teacher, student, out, options, record)
    return DistillResult(bundle, record)


def saved_student(bundle_dir: Path) -> tuple[str, Path | None]:
    """The student a distill bundle holds, as `export` takes it: an HF directory, or timm:NAME + weights."""
    folder = Path(bundle_dir) / STUDENT_DIR
    config = json.loads((folder / "config.json").read_text())
    if "architecture" in config:  # written by _timm_config
        return f"timm:{config['architecture']}", folder / "model.safetensors"
    return str(folder), None


def _hold_out(
    examples: TextExamples | ImageExamples | TaggedExamples | QuestionExamples, seed: int
) -> tuple[Any, Any]:
    """Split off EVAL_FRACTION of the examples for the metric shown during training (questions whole: all
    windows of a context's question fall on one side, since windows are cut after the split)."""
    from edgeship.sources.datasets import split_examples

    return split_examples(examples, test_size=max(1, int(len(examples) * EVAL_FRACTION)), seed=seed)


def _save_pooling(directory: Path, pooling: str, width: int) -> None:
    """Declare the teacher's pooling as sentence-transformers does, so the saved student pools the same."""
    folder = directory / POOLING_DIR
    folder.mkdir(exist_ok=True)
    declared = {
        "word_embedding_dimension": width,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
    }
    (folder / "config.json").write_text(json.dumps(declared, indent=2), encoding="utf-8")


def _timm_config(teacher: Any, initialised_from: dict[str, Any]) -> dict[str, Any]:
    """timm's hub config for a vision student: its constructor args and the teacher's pre-processing."""
    spec = teacher.image_preprocessing
    return {
        "architecture": initialised_from["timm_variant"],
        "num_classes": len(teacher.labels),
        "label_names": teacher.labels,
        "model_args": initialised_from.get("model_args", {}),
        "pretrained_cfg": {
            "input_size": [3, *spec.size],
            "crop_pct": min(spec.size) / spec.resize_shorter_to,
            "mean": list(spec.mean),
            "std": list(spec.std),
            "interpolation": spec.interpolation,
        },
    }


def _write_bundle(
    teacher: Any, student: Any, out: Path, options: DistillOptions, record: dict[str, Any]
) -> Bundle:
    """Save the student (safetensors + config + tokenizer), export it to ONNX, then mark the bundle a student's."""
    from edgeship.export.registry import ExportOptions
    from edgeship.pipeline.export import export_model

    out.parent.mkdir(parents=True, exist_ok=True)
    saved = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.student-"))
    try:
        model_source = ModelSource(labels=teacher.labels)
        if student.modality == "text":
            student.model.save_pretrained(str(saved))
            teacher.tokenizer.save_pretrained(str(saved))
            spec, checkpoint = str(saved), None
            if teacher.pooling is not None:  # a sentence encoder: its pooling goes with it
                model_source = ModelSource(task=teacher.task)
                _save_pooling(saved, teacher.pooling, int(student.model.config.hidden_size))
        else:
            from safetensors.torch import save_file

            variant = record["initialised_from"]["timm_variant"]
            save_file(student.model.state_dict(), str(saved / "model.safetensors"))
            (saved / "config.json").write_text(json.dumps(_timm_config(teacher, record["initialised_from"])))
            spec, checkpoint = f"timm:{variant}", saved / "model.safetensors"
        bundle, _ = export_model(
            spec,
            out,
            source=model_source.model_copy(update={"checkpoint": checkpoint}),
            options=ExportOptions(max_length=options.max_length),
        )
        os.replace(saved, out / STUDENT_DIR)
    finally:
        shutil.rmtree(saved, ignore_errors=True)
    write_text_atomic(out / RECORD_FILE, json.dumps(record, indent=2, default=str))
    with bundle.update() as change:
        source = change.manifest.source
        source.role, source.teacher = "student", teacher.source
        source.model = f"{options.family} student ({student.description}) of {teacher.source}"
    return bundle
