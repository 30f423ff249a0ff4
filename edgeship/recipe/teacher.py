"""The recipe's teacher: a model spec as given, a packaged offline model, or one fine-tuned here (cached)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from edgeship.console import console, step
from edgeship.recipe.data import Examples, RecipeData
from edgeship.recipe.load import RecipeError
from edgeship.recipe.schema import FineTune, Teacher
from edgeship.recipe.steps import content_key

PACKAGED_PREFIX = "packaged:"
DONE_FILE = "edgeship-teacher.json"


@dataclass(frozen=True)
class ResolvedTeacher:
    """What `export` / `distill` take as the teacher, and the key downstream steps hash."""

    model: str
    checkpoint: Path | None
    key: str
    name: str
    """What the bundles call it: the recipe's model spec, and what it was fine-tuned on."""
    trained_seconds: float | None = None
    """Seconds spent fine-tuning in this run (None: not fine-tuned here, or reused from the cache)."""


def teacher_task(teacher: Teacher, cache_dir: Path) -> tuple[str | None, list[str] | None]:
    """The teacher's task and the label names to read the data with: the recipe's, else (no fine-tuning)
    the teacher's own head's (a fine-tuned teacher is a classifier: its task comes with its new head)."""
    if teacher.fine_tune is not None:
        if teacher.task == "feature-extraction":
            raise RecipeError(
                "teacher.fine_tune adds a classification head, but teacher.task is feature-extraction",
                hint="drop teacher.fine_tune: a sentence encoder is shipped (and distilled) as it is",
            )
        return teacher.task, teacher.labels
    if teacher.labels and teacher.task is not None:
        return teacher.task, teacher.labels
    from edgeship.sources.loading import load_model

    model, checkpoint = _packaged(teacher, cache_dir)
    with step(f"Reading the task and labels of {model}"):
        loaded = load_model(model, checkpoint=checkpoint, task=teacher.task, revision=teacher.revision)
    return loaded.task, teacher.labels or loaded.labels


def _packaged(teacher: Teacher, cache_dir: Path) -> tuple[str, Path | None]:
    """The teacher's model spec and checkpoint, a packaged:NAME resolved to its files."""
    if not teacher.model.startswith(PACKAGED_PREFIX):
        return teacher.model, teacher.checkpoint
    from edgeship.sources.packaged import resolve_packaged

    packaged = resolve_packaged(teacher.model.removeprefix(PACKAGED_PREFIX), cache_dir)
    return packaged.model, teacher.checkpoint or packaged.checkpoint


def resolve_teacher(
    teacher: Teacher, data: RecipeData, data_key: str, cache_dir: Path, *, max_length: int, seed: int
) -> ResolvedTeacher:
    """The teacher's model spec, fine-tuned on `data.train` first when the recipe asks (cached by content)."""
    model, checkpoint = _packaged(teacher, cache_dir)
    if teacher.fine_tune is None:
        return ResolvedTeacher(
            model, checkpoint, content_key(model, checkpoint, teacher.revision), teacher.model
        )
    key = content_key(
        teacher.model, checkpoint, teacher.revision, teacher.fine_tune, data_key, max_length, seed
    )
    folder = cache_dir / "teachers" / key
    trained_seconds = None
    if not (folder / DONE_FILE).is_file():
        started = time.perf_counter()
        _fine_tune(model, checkpoint, teacher, data, folder, max_length, seed)
        trained_seconds = time.perf_counter() - started
    else:
        console.print(f"[green]✓[/green] Reusing the fine-tuned teacher in {folder}")
    record = json.loads((folder / DONE_FILE).read_text())
    fine_tuned_checkpoint = folder / record["checkpoint"] if record["checkpoint"] else None
    name = f"{teacher.model} fine-tuned on {data.train.name} ({len(data.train)} examples)"
    return ResolvedTeacher(record["model"], fine_tuned_checkpoint, key, name, trained_seconds)


def _fine_tune(
    model: str,
    checkpoint: Path | None,
    teacher: Teacher,
    data: RecipeData,
    folder: Path,
    max_length: int,
    seed: int,
) -> None:
    """Train into a staging folder next to `folder`, then rename it into place."""
    options = teacher.fine_tune
    assert options is not None
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        if model.startswith("timm:"):
            from edgeship.compress.finetune_vision import fine_tune_image_classifier

            console.print(f"Fine-tuning {model} on {len(data.train)} images ({options.epochs} epochs)")
            written = fine_tune_image_classifier(
                model,
                checkpoint,
                data.train,  # type: ignore[arg-type]
                staging / "model",
                epochs=options.epochs,
                batch_size=options.batch_size,
                learning_rate=options.lr or 1e-3,
                image_size=options.image_size,
                seed=seed,
            )
            record = {"model": model, "checkpoint": str(written.relative_to(staging))}
        else:
            _fine_tune_text(model, options, data.train, staging, max_length, seed, teacher.task)
            record = {"model": str(folder), "checkpoint": ""}
        (staging / DONE_FILE).write_text(json.dumps(record))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fine_tune_text(
    model_dir: str,
    options: FineTune,
    train: Examples,
    out: Path,
    max_length: int,
    seed: int,
    task: str | None,
) -> None:
    """A new head on the encoder in `model_dir` (one label per text, one tag per word for
    token-classification, a start and an end per token for question-answering), trained on `train`,
    saved to `out`."""
    import torch
    import transformers

    from edgeship.compress.finetune import FineTuneOptions, fine_tune_text_classifier
    from edgeship.compress.finetune_qa import fine_tune_question_answerer
    from edgeship.compress.finetune_tokens import fine_tune_token_classifier
    from edgeship.tasks.base import get_task

    head = get_task(task or "text-classification").hf_head
    auto_class = getattr(transformers, f"AutoModel{head}")
    labels: list[str] = getattr(train, "label_names", [])  # a QA head has no labels: start and end
    label_options = (
        {
            "num_labels": len(labels),
            "id2label": dict(enumerate(labels)),
            "label2id": {name: i for i, name in enumerate(labels)},
        }
        if labels
        else {}
    )
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(seed)
    with step(f"Loading {model_dir}"):
        model = auto_class.from_pretrained(
            model_dir,
            **label_options,
            ignore_mismatched_sizes=True,  # a head of other labels is replaced: the new head is trained
            attn_implementation="eager",
        )
        tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    what = {"token-classification": "tagged sentences", "question-answering": "questions"}.get(
        task or "", "examples"
    )
    console.print(f"Fine-tuning {Path(model_dir).name} on {len(train)} {what} ({options.epochs} epoch(s))")
    settings = FineTuneOptions(
        epochs=options.epochs,
        batch_size=options.batch_size,
        learning_rate=options.lr or 1e-4,
        max_length=max_length,
        seed=seed,
    )
    train_function = {
        "token-classification": fine_tune_token_classifier,
        "question-answering": fine_tune_question_answerer,
    }.get(task or "", fine_tune_text_classifier)
    train_function(model, tokenizer, train, settings)  # type: ignore[operator]
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
