"""Steps that build a bundle: export per format, score, quantize per scheme, prune what the recipe dropped."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from edgeship.bundle import Bundle, is_bundle
from edgeship.console import console
from edgeship.errors import EdgeshipError
from edgeship.manifest import Variant
from edgeship.recipe.data import RecipeData
from edgeship.recipe.schema import Recipe
from edgeship.recipe.steps import StepState, content_key


@dataclass(frozen=True)
class BundlePlan:
    """One bundle of the recipe (teacher or student): where it goes and what it holds."""

    role: str
    root: Path
    formats: list[str]
    schemes: dict[str, list[str]]


@dataclass(frozen=True)
class DataKeys:
    """Content digests of the recipe's data, part of every step key that reads it."""

    train: str
    eval: str
    calibration: str


def reset_if_changed(state: StepState, plan: BundlePlan, first_step: str, key: str) -> None:
    """A bundle whose first step changed is rebuilt: its folder and step records go. A folder this recipe
    did not make is never removed without --force."""
    if state.keys.get(first_step) == key and is_bundle(plan.root):
        return
    if plan.root.exists() and not (state.made(f"{plan.role}/") or state.forced):
        raise RecipeOutputError(
            f"{plan.root} already exists and was not made by this recipe; the run would remove it "
            f"({_contents(plan.root)})",
            hint="pass another --out, or --force to replace it",
        )
    if plan.root.exists():
        console.print(f"Removing {plan.root} ({_contents(plan.root)}): rebuilt by this recipe")
        shutil.rmtree(plan.root)
    state.forget(f"{plan.role}/")


class RecipeOutputError(EdgeshipError):
    """A recipe output folder that the run must not replace."""


def _contents(root: Path) -> str:
    """What a folder holds, in a few words: its file count and a few names."""
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    shown = ", ".join(files[:4]) + (", ..." if len(files) > 4 else "")
    return f"{len(files)} file(s): {shown}" if files else "empty"


def export_formats(
    state: StepState,
    recipe: Recipe,
    plan: BundlePlan,
    model: str,
    checkpoint: Path | None,
    base_key: str,
    name: str | None = None,
) -> None:
    """Export `model` once per format into the bundle (the first format creates it), called `name`."""
    from edgeship.export.registry import ExportOptions
    from edgeship.pipeline.export import export_model
    from edgeship.sources.model_source import ModelSource

    options = recipe.export.narrow(ExportOptions)
    source = recipe.teacher.narrow(ModelSource).model_copy(update={"checkpoint": checkpoint, "name": name})

    def export(artifact_format: str) -> None:
        bundle, _ = export_model(
            model,
            plan.root,
            artifact_format=artifact_format,
            source=source,
            options=options if artifact_format == "tensorrt" else options.model_copy(update={"device": None}),
        )
        if bundle.manifest.source.role is None:
            with bundle.update() as change:
                change.manifest.source.role = plan.role  # type: ignore[assignment]

    for artifact_format in plan.formats:
        key = content_key(base_key, artifact_format)
        state.run(
            f"{plan.role}/export/{artifact_format}",
            key,
            lambda f=artifact_format: export(f),  # type: ignore[misc]
            done=_fp32_variant(plan.root, artifact_format) is not None,
        )


def score_and_quantize(
    state: StepState, recipe: Recipe, plan: BundlePlan, data: RecipeData, keys: DataKeys
) -> None:
    """Per format: accuracy of the fp32 variant, then its quantized variants within the accuracy budget."""
    from edgeship.pipeline.evaluate import evaluate_bundle
    from edgeship.pipeline.quantize import quantize_bundle

    settings = recipe.quantize
    for artifact_format in plan.formats:
        source = _fp32_variant(plan.root, artifact_format, settings.source)
        assert source is not None, f"{artifact_format} was exported by the step before"
        scored = source.accuracy is not None
        scheme_names = plan.schemes.get(artifact_format, [])
        eval_key = (keys.eval, recipe.data.split, recipe.data.batch_size)
        if not scheme_names:
            state.run(
                f"{plan.role}/evaluate/{source.id}",
                content_key(source.sha256, eval_key),
                lambda s=source: evaluate_bundle(  # type: ignore[misc]
                    plan.root,
                    data.eval,
                    variant_ids=[s.id],
                    split=recipe.data.split,
                    batch_size=recipe.data.batch_size,
                ),
                done=scored,
            )
            continue
        specs = {spec.scheme: spec for spec in settings.specs(scheme_names)}
        budget = (settings.max_accuracy_drop, settings.min_agreement)
        items = [
            (
                f"{plan.role}/quantize/{artifact_format}/{scheme}",
                content_key(source.sha256, spec, keys.calibration, eval_key, budget),
                scored and _derived(plan.root, source, scheme) is not None,
            )
            for scheme, spec in specs.items()
        ]

        def quantize(stale: list[str], source: Variant = source, specs: dict = specs) -> None:
            quantize_bundle(
                plan.root,
                [specs[name.rsplit("/", 1)[1]] for name in stale],  # type: ignore[index]
                artifact_format=source.format,
                source_variant=source.id,
                calibration_data=data.calibration,
                eval_data=data.eval,
                eval_split=recipe.data.split,
                max_accuracy_drop=settings.max_accuracy_drop,
                min_agreement=settings.min_agreement,
            )

        state.run_group(f"{plan.role}/quantize/{artifact_format}", items, quantize)
    dropped = prune(plan)
    if dropped:
        state.note(f"{plan.role}/prune", "ran", f"removed {', '.join(dropped)} (no longer in the recipe)")


def prune(plan: BundlePlan) -> list[str]:
    """Remove variants (files and benchmarks) of formats or schemes the recipe no longer asks for."""
    with Bundle.open(plan.root).update() as change:
        manifest = change.manifest
        ids = {
            variant.id
            for variant in manifest.variants
            if variant.format not in plan.formats
            or (
                variant.source_variant is not None
                and variant.precision not in plan.schemes.get(variant.format, [])
            )
        }
        manifest.variants = [v for v in manifest.variants if v.id not in ids]
        manifest.benchmarks = [b for b in manifest.benchmarks if b.variant not in ids]
    return sorted(ids)


def _fp32_variant(root: Path, artifact_format: str, variant_id: str | None = None) -> Variant | None:
    """The exported (not derived) variant of `artifact_format`, or the named one."""
    if not is_bundle(root):
        return None
    manifest = Bundle.open(root).manifest
    if variant_id is not None:
        return manifest.variant(variant_id)
    return next(
        (v for v in manifest.variants if v.format == artifact_format and v.source_variant is None), None
    )


def _derived(root: Path, source: Variant, scheme: str) -> Variant | None:
    """The variant quantized from `source` with `scheme`, if the bundle holds it."""
    manifest = Bundle.open(root).manifest
    return next(
        (v for v in manifest.variants if v.source_variant == source.id and v.precision == scheme), None
    )
