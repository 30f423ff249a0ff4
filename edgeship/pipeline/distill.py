"""The distill step: teacher + labelled data -> trained student -> a student bundle (ONNX fp32, role student)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgeship.bundle import Bundle, prepare_output, write_text_atomic
from edgeship.console import console, step
from edgeship.errors import DataError
from edgeship.sources.data import ImageExamples, TextExamples, examples_digest
from edgeship.sources.model_source import ModelSource
from edgeship.step_options import RUN_ONLY_OPTIONS, DistillOptions, DistillStep

STUDENT_DIR = "student"
RECORD_FILE = "distill.json"
MIN_EXAMPLES = 16
EVAL_FRACTION = 0.1


@dataclass
class DistillResult:
    """The student bundle and what the run measured."""

    bundle: Bundle
    record: dict[str, Any]


def load_examples(
    data: str | Path | TextExamples | ImageExamples, labels: list[str]
) -> TextExamples | ImageExamples:
    """A dataset name (rotten_tomatoes), a CSV/JSONL/image folder path, or examples as they are."""
    from edgeship.sources.data import load_labelled
    from edgeship.sources.datasets import DATASETS

    if isinstance(data, TextExamples | ImageExamples):
        examples = data
    elif str(data) in DATASETS:
        examples = DATASETS[str(data)]()
    else:
        examples = load_labelled(Path(data), labels)
    if len(examples) < MIN_EXAMPLES:
        raise DataError(
            f"{examples.name} has {len(examples)} examples; distillation needs at least {MIN_EXAMPLES}",
            hint="pass more labelled examples",
        )
    return examples


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
    data: str | Path | TextExamples | ImageExamples,
    out: Path,
    options: DistillOptions,
    *,
    eval_data: str | Path | TextExamples | ImageExamples | None = None,
    teacher_checkpoint: Path | None = None,
    teacher_name: str | None = None,
    progress: bool = True,
) -> DistillResult:
    """Build and train a student of `teacher_spec`, save it and export it into the new bundle `out`."""
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
    train = load_examples(data, teacher.labels)
    evaluation = load_examples(eval_data, teacher.labels) if eval_data is not None else None
    if evaluation is None:
        train, evaluation = _hold_out(train, options.seed)
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
        "eval_accuracy": result.eval_accuracy,
        "eval_samples": len(evaluation),
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


def _hold_out(examples: TextExamples | ImageExamples, seed: int) -> tuple[Any, Any]:
    """Split off EVAL_FRACTION of the examples for the accuracy shown during training."""
    from edgeship.sources.datasets import split_examples

    return split_examples(examples, test_size=max(1, int(len(examples) * EVAL_FRACTION)), seed=seed)


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
        if student.modality == "text":
            student.model.save_pretrained(str(saved))
            teacher.tokenizer.save_pretrained(str(saved))
            spec, checkpoint = str(saved), None
        else:
            from safetensors.torch import save_file

            variant = record["initialised_from"]["timm_variant"]
            save_file(student.model.state_dict(), str(saved / "model.safetensors"))
            (saved / "config.json").write_text(json.dumps(_timm_config(teacher, record["initialised_from"])))
            spec, checkpoint = f"timm:{variant}", saved / "model.safetensors"
        bundle, _ = export_model(
            spec,
            out,
            source=ModelSource(checkpoint=checkpoint, labels=teacher.labels),
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
