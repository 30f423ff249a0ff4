"""`edgeship run`: a recipe from teacher to devices, every step cached by the content it depends on."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from edgeship.console import step
from edgeship.recipe.bundle_steps import (
    BundlePlan,
    DataKeys,
    export_formats,
    reset_if_changed,
    score_and_quantize,
)
from edgeship.recipe.data import RecipeData, load_recipe_data
from edgeship.recipe.deliver_steps import (
    bench_devices,
    log_to_tracking,
    roll_out,
    write_app_kits,
    write_reports,
)
from edgeship.recipe.schema import Recipe
from edgeship.recipe.steps import StepRecord, StepState, content_key
from edgeship.recipe.teacher import ResolvedTeacher, resolve_teacher, teacher_task
from edgeship.sources.data import examples_digest

STATE_DIR = ".edgeship-run"


@dataclass
class RunResult:
    """The bundles a run wrote and what each step did."""

    bundles: dict[str, Path]
    records: list[StepRecord]
    seconds: float

    @property
    def ran(self) -> list[str]:
        """Steps that ran (not cached) in this run."""
        return [record.step for record in self.records if record.status == "ran"]


def run_recipe(
    recipe: Recipe, *, out: Path | None = None, cache_dir: Path, force: bool = False, mlflow: bool = False
) -> RunResult:
    """Run every step of `recipe` whose inputs changed since the last run into the same output folder."""
    started = time.perf_counter()
    out = out or recipe.out
    state = StepState.open(out / STATE_DIR / f"{recipe.name}.json")
    if force:
        state.start_over()
    task, labels = teacher_task(recipe.teacher, cache_dir)
    with step(f"Loading data ({recipe.data.train})"):
        data = load_recipe_data(recipe.data, labels, task)
        keys = DataKeys(
            examples_digest(data.train), examples_digest(data.eval), examples_digest(data.calibration)
        )
    max_length = recipe.export.max_length
    teacher = resolve_teacher(
        recipe.teacher, data, keys.train, cache_dir, max_length=max_length, seed=recipe.data.seed
    )
    if recipe.teacher.fine_tune is not None:
        fine_tuned = teacher.trained_seconds is not None
        state.records.append(
            StepRecord("teacher/fine-tune", "ran" if fine_tuned else "cached", teacher.trained_seconds or 0.0)
        )
    plans = [_teacher_bundle(state, recipe, out, teacher, data, keys)]
    if recipe.student is not None:
        plans.append(_student_bundle(state, recipe, out, teacher, data, keys))
    bench_devices(state, recipe.devices, plans)
    roll_out(state, recipe, plans)
    write_reports(state, recipe, plans)
    write_app_kits(state, recipe, plans)
    if mlflow or recipe.tracking.mlflow:
        log_to_tracking(state, recipe, plans, out)
    return RunResult({plan.role: plan.root for plan in plans}, state.records, time.perf_counter() - started)


def _teacher_bundle(
    state: StepState, recipe: Recipe, out: Path, teacher: ResolvedTeacher, data: RecipeData, keys: DataKeys
) -> BundlePlan:
    """Export the teacher per format, score and quantize it."""
    plan = BundlePlan("teacher", out / recipe.name, recipe.export.formats, recipe.quantize.schemes)
    base_key = content_key(teacher.key, recipe.teacher, recipe.export.model_dump(exclude={"formats"}))
    reset_if_changed(state, plan, f"teacher/export/{plan.formats[0]}", content_key(base_key, plan.formats[0]))
    export_formats(state, recipe, plan, teacher.model, teacher.checkpoint, base_key, teacher.name)
    score_and_quantize(state, recipe, plan, data, keys)
    return plan


def _student_bundle(
    state: StepState, recipe: Recipe, out: Path, teacher: ResolvedTeacher, data: RecipeData, keys: DataKeys
) -> BundlePlan:
    """Distill the student (writes its onnx-fp32), export its other formats, score and quantize it."""
    from edgeship.pipeline.distill import distill_to_bundle, saved_student

    student = recipe.student
    assert student is not None
    schemes = recipe.student_schemes()
    plan = BundlePlan("student", out / f"{recipe.name}-student", recipe.student_formats(), schemes)
    training = student.model_dump(exclude={"formats", "schemes", "resume", "checkpoint_dir"})
    key = content_key(
        teacher.key, training, keys.train, keys.eval, recipe.export.max_length, recipe.data.seed
    )
    reset_if_changed(state, plan, "student/distill", key)
    options = student.distill_options(recipe.export.max_length, recipe.data.seed).model_copy(
        update={"checkpoint_dir": student.checkpoint_dir or out / STATE_DIR / "student-checkpoints"}
    )
    state.run(
        "student/distill",
        key,
        lambda: distill_to_bundle(
            teacher.model,
            data.train,
            plan.root,
            options,
            eval_data=data.eval,
            teacher_checkpoint=teacher.checkpoint,
            teacher_name=teacher.name,
        ),
        done=plan.root.is_dir(),
    )
    others = BundlePlan(plan.role, plan.root, plan.formats[1:], schemes)
    export_formats(state, recipe, others, *saved_student(plan.root), key)
    score_and_quantize(state, recipe, plan, data, keys)
    return plan
