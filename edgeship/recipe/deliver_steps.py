"""Steps after the bundles are built: benchmarks per device, reports, app kits, MLflow tracking."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from edgeship.bundle import MANIFEST_NAME, Bundle
from edgeship.console import console
from edgeship.errors import DeviceError, EdgeshipError
from edgeship.recipe.bundle_steps import BundlePlan
from edgeship.recipe.schema import DeviceRun, Recipe
from edgeship.recipe.steps import StepState, content_key


def manifest_digest(root: Path) -> str:
    """Digest of a bundle's manifest.json: reports and kits are redone when it changes."""
    return hashlib.sha256((root / MANIFEST_NAME).read_bytes()).hexdigest()[:16]


def bench_devices(state: StepState, devices: list[DeviceRun], plans: list[BundlePlan]) -> None:
    """Benchmark each bundle's chosen variants on each device; unchanged variants are not re-run."""
    for device in devices:
        chosen = [plan for plan in plans if plan.role in device.bundles]
        _check_variant_ids(device, chosen)
        for plan in chosen:
            try:
                _bench_bundle_on(state, device, plan)
            except DeviceError as exc:
                if not device.optional:
                    raise
                state.note(f"{plan.role}/bench/{device.name}", "skipped", exc.message)
                console.print(f"[yellow]Skipping optional device {device.name}:[/yellow] {exc.message}")
                break


def _bench_bundle_on(state: StepState, device: DeviceRun, plan: BundlePlan) -> None:
    from edgeship.pipeline.bench import bench_bundle

    manifest = Bundle.open(plan.root).manifest
    variants = [v for v in manifest.variants if device.variants is None or v.id in device.variants]
    measured = {b.variant for b in manifest.benchmarks if b.device == device.name}
    settings = device.model_dump(exclude={"variants", "bundles", "optional"})
    items = [
        (f"{plan.role}/bench/{device.name}/{v.id}", content_key(v.sha256, settings), v.id in measured)
        for v in variants
    ]

    def bench(stale: list[str]) -> None:
        bench_bundle(
            plan.root,
            device=device.name,
            variant_ids=[name.rsplit("/", 1)[1] for name in stale],
            threads=device.threads,
            runs=device.runs,
            warmup=device.warmup,
            batch=device.batch,
            sequence_length=device.seq_len,
        )

    state.run_group(f"{plan.role}/bench/{device.name}", items, bench)


def _check_variant_ids(device: DeviceRun, plans: list[BundlePlan]) -> None:
    """Every variant id a device entry names exists in one of its bundles."""
    if device.variants is None:
        return
    known = {v.id for plan in plans for v in Bundle.open(plan.root).manifest.variants}
    unknown = sorted(set(device.variants) - known)
    if unknown:
        raise EdgeshipError(
            f"devices[{device.name}].variants names {', '.join(unknown)}, which no bundle holds",
            hint=f"choose from: {', '.join(sorted(known))}",
        )


def roll_out(state: StepState, recipe: Recipe, plans: list[BundlePlan]) -> None:
    """The staged push: canaries checked (benchmark, parity) before any live file changes; stops on failure."""
    from edgeship.devices.registry import get_device
    from edgeship.pipeline.rollout import rollout

    settings = recipe.push
    if not settings.devices:
        return
    plan = _plan_for(settings.bundle, plans)
    bundle = Bundle.open(plan.root)
    variants = bundle.select_variants(settings.variant)
    key = content_key([v.sha256 for v in variants], settings.model_dump(mode="json"))

    def push() -> None:
        outcomes = rollout(
            [get_device(name) for name in settings.devices],
            bundle,
            variants,
            settings.canary or 1,
            settings.max_parity_diff,
        )
        failed = next((o for o in outcomes if o.status == "failed"), None)
        if failed:
            raise DeviceError(
                f"rollout stopped at {failed.role} '{failed.device}': {failed.reason}", hint=failed.hint
            )
        console.print(f"Rolled {len(variants)} variant(s) out to {', '.join(settings.devices)}")

    state.run(f"{plan.role}/push", key, push)


def _plan_for(role: str | None, plans: list[BundlePlan]) -> BundlePlan:
    """The bundle a section names, else the student when there is one."""
    wanted = role or plans[-1].role
    return next(plan for plan in plans if plan.role == wanted)


def write_reports(state: StepState, recipe: Recipe, plans: list[BundlePlan]) -> None:
    """report.md / report.html / plots per bundle, redone when its manifest changed."""
    from edgeship.report.write import write_report

    if not recipe.report.enabled:
        return
    for plan in plans:
        out = recipe.report.out / plan.role if recipe.report.out else plan.root
        state.run(
            f"{plan.role}/report",
            content_key(manifest_digest(plan.root), str(out)),
            lambda plan=plan, out=out: write_report(plan.root, out),  # type: ignore[misc]
            done=(out / "report.html").is_file(),
        )


def write_app_kits(state: StepState, recipe: Recipe, plans: list[BundlePlan]) -> None:
    """The mobile kits of the student (or the teacher, or `app.bundle`), redone when its manifest changed."""
    from edgeship.appkit.kit import write_app_kit

    settings = recipe.app
    plan = _plan_for(settings.bundle, plans)
    for platform in settings.platforms:
        out = settings.out or plan.root
        key = content_key(
            manifest_digest(plan.root),
            settings.artifact,
            settings.variant,
            settings.max_accuracy_drop,
            str(out),
            platform,
        )
        state.run(
            f"app/{platform}",
            key,
            lambda platform=platform, out=out: write_app_kit(  # type: ignore[misc]
                plan.root,
                platform,
                artifact=settings.artifact,
                variant_id=settings.variant,
                out=out,
                max_accuracy_drop=settings.max_accuracy_drop,
            ),
            done=(out / "app" / platform).is_dir(),
        )


def log_to_tracking(state: StepState, recipe: Recipe, plans: list[BundlePlan], out: Path) -> None:
    """One MLflow run with the recipe as parameters and every bundle's metrics and files."""
    from edgeship.tracking import log_to_mlflow

    settings = recipe.tracking
    directory = settings.directory or out / "mlruns"
    key = content_key([manifest_digest(plan.root) for plan in plans], str(directory), settings.experiment)

    def log() -> None:
        run_id = log_to_mlflow(
            [plan.root for plan in plans],
            tracking_dir=directory,
            experiment=settings.experiment,
            run_name=recipe.name,
            params=_recipe_params(recipe),
        )
        console.print(f"Logged MLflow run {run_id} to {directory}")

    state.run("mlflow", key, log)


def _recipe_params(recipe: Recipe) -> dict[str, Any]:
    """The recipe as MLflow parameters (JSON values)."""
    return dict(recipe.model_dump(mode="json", exclude_none=True))
