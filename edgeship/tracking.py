"""Log bundles to MLflow in a local file store: params, accuracy/parity/size/latency metrics, artifacts."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from edgeship.bundle import Bundle
from edgeship.errors import MissingDependencyError, OutputError
from edgeship.manifest import Manifest
from edgeship.report.points import latest_benchmarks
from edgeship.version import __version__

MLFLOW_HINT = "pip install 'edgeship[mlflow]'"
# MLflow 3.x refuses its filesystem backend ("maintenance mode") unless this documented opt-out is set;
# the alternative, sqlite, needs SQLAlchemy, which mlflow-skinny does not install.
ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"


def log_to_mlflow(
    bundles: list[Path],
    *,
    tracking_dir: Path,
    experiment: str = "edgeship",
    run_name: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> str:
    """Log the bundles as one MLflow run in the file store at `tracking_dir`; returns the run id."""
    mlflow = _import_mlflow()
    from mlflow.exceptions import MlflowException

    named = _by_unique_name([Bundle.open(path) for path in bundles])
    tracking_dir = Path(tracking_dir).resolve()
    with _file_store_allowed():
        try:
            tracking_dir.mkdir(parents=True, exist_ok=True)
            client = mlflow.MlflowClient(tracking_uri=tracking_dir.as_uri())
            experiment_id = _experiment_id(client, experiment)
            tags = {"edgeship.version": __version__, "edgeship.bundles": ", ".join(named)}
            run_id: str = client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id
        except (OSError, MlflowException) as exc:
            raise OutputError(
                f"cannot log to the MLflow store '{tracking_dir}': {_reason(exc)}",
                hint="choose a writable tracking directory",
            ) from exc
        try:
            run_params = flatten_params(params or {})
            for name, bundle in named.items():
                run_params.update(bundle_params(name, bundle.manifest))
            for key, value in run_params.items():
                client.log_param(run_id, key, value)
            for name, bundle in named.items():
                for key, number in bundle_metrics(name, bundle.manifest).items():
                    client.log_metric(run_id, key, number)
                client.log_artifacts(run_id, str(bundle.root), artifact_path=name)
        except BaseException as exc:
            client.set_terminated(run_id, status="FAILED")
            if isinstance(exc, (OSError, MlflowException)):
                raise OutputError(
                    f"logging to MLflow run {run_id} failed: {_reason(exc)}",
                    hint="the run is marked FAILED; fix the cause and log again",
                ) from exc
            raise
        client.set_terminated(run_id, status="FINISHED")
    return run_id


def mlflow_key(*parts: str) -> str:
    """A metric or param name MLflow accepts: each part keeps [A-Za-z0-9_.-], parts join with '/'."""
    cleaned = [re.sub(r"[^\w.-]", "_", part, flags=re.ASCII) for part in parts]
    return "/".join(part if part.strip(".") else part.replace(".", "_") or "_" for part in cleaned)


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as dotted keys (`quantize.scheme`) with string values."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten_params(value, dotted))
        else:
            flat[mlflow_key(*dotted.split("/"))] = str(value)
    return flat


def bundle_params(name: str, manifest: Manifest) -> dict[str, str]:
    """Where a bundle's model came from and which edgeship wrote it."""
    source = manifest.source
    values = {
        "source_model": source.model,
        "architecture": source.architecture,
        "task": source.task,
        "role": source.role,
        "teacher": source.teacher,
        "edgeship_version": manifest.created_with,
    }
    for device, benchmarks in latest_benchmarks(manifest).items():
        values[f"emulated_{device}"] = str(any(b.emulated for b in benchmarks.values()))
    return {mlflow_key(name, key): str(value) for key, value in values.items() if value is not None}


def bundle_metrics(name: str, manifest: Manifest) -> dict[str, float]:
    """Per variant: accuracy per split, parity, size and the latest p50/p90 latency per device."""
    metrics: dict[str, float] = {}
    for variant in manifest.variants:
        values: dict[str, float | None] = {"bytes": variant.bytes, "size_mb": variant.bytes / 1e6}
        if variant.accuracy is not None:
            split = variant.evaluated_on.split if variant.evaluated_on else "eval"
            values[f"accuracy_{split}"] = variant.accuracy
        values["eval_agreement"] = variant.eval_agreement
        if variant.parity is not None:
            values["parity_max_abs_diff"] = variant.parity.max_abs_diff
            values["parity_argmax_agreement"] = variant.parity.argmax_agreement
        for device, benchmarks in latest_benchmarks(manifest).items():
            if variant.id in benchmarks:
                latency = benchmarks[variant.id].latency_ms
                values[f"p50_ms_{device}"], values[f"p90_ms_{device}"] = latency.p50, latency.p90
        for key, value in values.items():
            if value is not None:
                metrics[mlflow_key(name, variant.id, key)] = float(value)
    return metrics


def _import_mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise MissingDependencyError(
            "logging to MLflow needs mlflow, which is not installed", hint=MLFLOW_HINT
        ) from exc
    return mlflow


@contextlib.contextmanager
def _file_store_allowed() -> Iterator[None]:
    """Set MLflow's opt-in for its file store for the duration of the block, then restore it."""
    previous = os.environ.get(ALLOW_FILE_STORE)
    os.environ[ALLOW_FILE_STORE] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ALLOW_FILE_STORE, None)
        else:
            os.environ[ALLOW_FILE_STORE] = previous


def _by_unique_name(bundles: list[Bundle]) -> dict[str, Bundle]:
    """Bundles by directory name, made safe and unique (`bert`, `bert-2`) for keys and artifact paths."""
    named: dict[str, Bundle] = {}
    for bundle in bundles:
        base = mlflow_key(bundle.root.resolve().name or "bundle")
        name, count = base, 1
        while name in named:
            count += 1
            name = f"{base}-{count}"
        named[name] = bundle
    return named


def _experiment_id(client: Any, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        return str(client.create_experiment(name))
    if found.lifecycle_stage == "deleted":
        raise OutputError(
            f"MLflow experiment '{name}' is deleted",
            hint="restore it (`mlflow experiments restore`) or choose another experiment name",
        )
    return str(found.experiment_id)


def _reason(exc: BaseException) -> str:
    """The first line of an MLflow or OS error, without its long guidance text."""
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
