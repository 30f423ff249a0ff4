"""edgeship.tracking: bundles logged to a local MLflow file store, read back with MLflow's own client."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from edgeship import __version__
from edgeship.bundle import Bundle
from edgeship.errors import MissingDependencyError, NotABundleError, OutputError
from edgeship.tracking import ALLOW_FILE_STORE, log_to_mlflow, mlflow_key
from tests.conftest import run_cli

# the tiny BERT exported, int8-quantized, evaluated and benchmarked on this machine
from tests.report.test_report import bundle  # noqa: F401


@pytest.fixture()
def reader(monkeypatch: pytest.MonkeyPatch) -> Any:
    """MlflowClient for a store; log_to_mlflow sets MLflow's file-store opt-in only while it runs."""
    mlflow = pytest.importorskip("mlflow")

    def open_store(store: Path) -> Any:
        assert ALLOW_FILE_STORE not in os.environ
        monkeypatch.setenv(ALLOW_FILE_STORE, "true")
        return mlflow.MlflowClient(tracking_uri=store.as_uri())

    monkeypatch.delenv(ALLOW_FILE_STORE, raising=False)
    return open_store


def artifact_files(client: Any, run_id: str, path: str | None = None) -> set[str]:
    files: set[str] = set()
    for info in client.list_artifacts(run_id, path):
        files |= artifact_files(client, run_id, info.path) if info.is_dir else {info.path}
    return files


def test_run_holds_params_metrics_and_bundle_files(bundle: Path, tmp_path: Path, reader: Any) -> None:  # noqa: F811
    assert run_cli("report", str(bundle)).returncode == 0
    student = tmp_path / "students" / bundle.name
    shutil.copytree(bundle, student)
    copy = Bundle.open(student)
    copy.manifest.source.role, copy.manifest.source.teacher = "student", "tiny-teacher"
    copy.save()
    store = tmp_path / "runs dir" / "mlruns"

    run_id = log_to_mlflow(
        [bundle, student],
        tracking_dir=store,
        run_name="tiny",
        params={"quantize": {"scheme": "int8-dynamic", "per_channel": False}, "seed": 0},
    )

    client = reader(store)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny"
    assert client.get_experiment(run.info.experiment_id).name == "edgeship"
    assert run.data.tags["edgeship.version"] == __version__
    params, metrics = run.data.params, run.data.metrics
    assert params["quantize.scheme"] == "int8-dynamic" and params["quantize.per_channel"] == "False"
    assert params["seed"] == "0"
    assert params["bert-2/role"] == "student" and params["bert-2/teacher"] == "tiny-teacher"
    assert "bert/role" not in params and params["bert/emulated_local"] == "False"

    expected_files: set[str] = set()
    for name, root in (("bert", bundle), ("bert-2", student)):
        manifest = Bundle.open(root).manifest
        assert params[f"{name}/source_model"] == manifest.source.model
        assert params[f"{name}/task"] == "text-classification"
        assert params[f"{name}/edgeship_version"] == __version__
        assert len(manifest.variants) == 2 and len(manifest.benchmarks) == 2
        for variant in manifest.variants:
            assert variant.accuracy is not None and variant.evaluated_on is not None
            prefix = f"{name}/{variant.id}/"
            assert metrics[f"{prefix}accuracy_{variant.evaluated_on.split}"] == variant.accuracy
            assert metrics[f"{prefix}bytes"] == variant.bytes
            assert metrics[f"{prefix}size_mb"] == variant.bytes / 1e6
            if variant.eval_agreement is not None:
                assert metrics[f"{prefix}eval_agreement"] == variant.eval_agreement
            if variant.parity is not None:
                assert metrics[f"{prefix}parity_max_abs_diff"] == variant.parity.max_abs_diff
                assert metrics[f"{prefix}parity_argmax_agreement"] == variant.parity.argmax_agreement
            [benchmark] = [b for b in manifest.benchmarks if b.variant == variant.id]
            assert benchmark.device == "local"
            assert metrics[f"{prefix}p50_ms_local"] == benchmark.latency_ms.p50
            assert metrics[f"{prefix}p90_ms_local"] == benchmark.latency_ms.p90
        assert any(v.parity is not None for v in manifest.variants)
        files = {f"{name}/{p.relative_to(root).as_posix()}" for p in root.rglob("*") if p.is_file()}
        must_have = ["manifest.json", "report.html", "plots/size-vs-latency-local.png"]
        assert {f"{name}/{f}" for f in must_have + [v.file for v in manifest.variants]} <= files
        expected_files |= files
    assert artifact_files(client, run_id) == expected_files

    second = log_to_mlflow([bundle], tracking_dir=store)
    assert client.get_run(second).info.experiment_id == run.info.experiment_id


def test_failure_marks_the_run_failed(
    bundle: Path,  # noqa: F811
    tmp_path: Path,
    reader: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mlflow

    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mlflow.MlflowClient, "log_artifacts", disk_full)
    store = tmp_path / "mlruns"
    with pytest.raises(OutputError) as caught:
        log_to_mlflow([bundle], tracking_dir=store, experiment="broken")
    message = caught.value.one_line()
    assert "No space left on device" in message and "marked FAILED" in message and "\n" not in message
    client = reader(store)
    [run] = client.search_runs([client.get_experiment_by_name("broken").experiment_id])
    assert run.info.status == "FAILED" and run.data.params["bert/task"] == "text-classification"


def test_without_mlflow_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(MissingDependencyError) as caught:
        log_to_mlflow([tmp_path], tracking_dir=tmp_path / "mlruns")
    assert caught.value.one_line() == (
        "error: logging to MLflow needs mlflow, which is not installed (hint: pip install 'edgeship[mlflow]')"
    )
    assert not (tmp_path / "mlruns").exists()


def test_non_bundle_is_one_line_error_before_any_store(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    (tmp_path / "notes").mkdir()
    with pytest.raises(NotABundleError) as caught:
        log_to_mlflow([tmp_path / "notes"], tracking_dir=tmp_path / "mlruns")
    message = caught.value.one_line()
    assert "'" + str(tmp_path / "notes") + "' is not an edgeship bundle" in message and "\n" not in message
    assert not (tmp_path / "mlruns").exists()


def test_keys_are_names_mlflow_accepts() -> None:
    assert (
        mlflow_key("my bundle", "onnx.fp32", "p50_ms_pi@10.0.0.2:22")
        == "my_bundle/onnx.fp32/p50_ms_pi_10.0.0.2_22"
    )
    assert mlflow_key("..", ".", "a/b") == "__/_/a_b"
