"""Data hazards: concurrent writers, hostile manifests, recipes over foreign folders, failed and killed runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeship.bundle import Bundle, sha256_of
from edgeship.bundle_lock import bundle_lock
from edgeship.errors import BundleError
from tests.conftest import run_cli
from tests.reliability.conftest import (
    INTERNAL_ERROR,
    TINY_RECIPE,
    CliRecorder,
    assert_clean_error,
    tree_state,
)


@pytest.fixture()
def bundle(exported: Path, tmp_path: Path) -> Path:
    """A private copy of the suite's bundle."""
    return Path(shutil.copytree(exported, tmp_path / "bert"))


def manifest_of(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def write_manifest(root: Path, manifest: dict) -> None:
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))


def assert_consistent(root: Path) -> None:
    """The bundle opens, every file it lists matches its sha256, and it holds no model or result it doesn't list."""
    opened = Bundle.open(root)
    for variant in opened.manifest.variants:
        opened.verified_file(variant)
    listed = {v.file for v in opened.manifest.variants} | {b.raw for b in opened.manifest.benchmarks}
    on_disk = {
        str(p.relative_to(root)) for folder in ("models", "bench") for p in (root / folder).rglob("*.*")
    }
    assert on_disk <= listed, on_disk - listed
    assert not list(root.glob(".staging-*"))


def test_concurrent_quantizers_both_land(bundle: Path) -> None:
    manifest = manifest_of(bundle)
    (bundle / manifest["variants"].pop()["file"]).unlink()
    write_manifest(bundle, manifest)
    env = {**os.environ, "COLUMNS": "200"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "edgeship", "quantize", str(bundle), "--scheme", scheme],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for scheme in ("int4-weight", "int8-dynamic")
    ]
    for process in runs:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
    ids = [v["id"] for v in manifest_of(bundle)["variants"]]
    assert sorted(ids) == ["onnx-fp32", "onnx-int4-weight", "onnx-int8-dynamic"]
    assert_consistent(bundle)


def test_a_writer_waits_for_the_lock_then_names_its_holder(
    bundle: Path, edgeship_cli: CliRecorder, text_csv: Path
) -> None:
    before = tree_state(bundle)
    with bundle_lock(bundle):
        result = edgeship_cli(
            "eval", str(bundle), "--data", str(text_csv), env={"EDGESHIP_LOCK_TIMEOUT": "2"}
        )
    line = assert_clean_error(result, f"bundle {bundle} is locked by pid {os.getpid()}", "gave up after 2 s")
    assert "EDGESHIP_LOCK_TIMEOUT" in line
    assert "Waiting for bundle" in result.stderr or "Waiting for bundle" in result.stdout
    assert tree_state(bundle) == before


@pytest.mark.parametrize(
    ("command", "outside"),
    [("bench", "../outside/secret.onnx"), ("push", "/tmp/secret.onnx"), ("app", "models/../../secret.onnx")],
)
def test_a_variant_file_outside_the_bundle_is_refused(
    bundle: Path, edgeship_cli: CliRecorder, command: str, outside: str
) -> None:
    manifest = manifest_of(bundle)
    manifest["variants"][0]["file"] = outside
    write_manifest(bundle, manifest)
    before = tree_state(bundle)
    args = {"bench": ["--runs", "1"], "push": ["--device", "local"], "app": ["--platform", "ios"]}[command]
    result = edgeship_cli(command, str(bundle), *args)
    assert_clean_error(result, "variants.0.file", f"'{outside}' is not a path inside the bundle")
    assert tree_state(bundle) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("file", "C:/secret.onnx"), ("file", "models\\..\\..\\secret.onnx"), ("file", ""), ("raw", "../r.json")],
)
def test_every_listed_path_must_stay_inside(bundle: Path, field: str, value: str) -> None:
    manifest = manifest_of(bundle)
    if field == "raw":
        manifest["benchmarks"] = [{**BENCHMARK, "raw": value}]
    else:
        manifest["variants"][0][field] = value
    write_manifest(bundle, manifest)
    with pytest.raises(BundleError, match="is not a path inside the bundle"):
        Bundle.open(bundle)


BENCHMARK = {
    "variant": "onnx-fp32",
    "device": "local",
    "runtime": "onnxruntime",
    "runtime_version": "1",
    "threads": 1,
    "batch": 1,
    "input_shapes": {},
    "latency_ms": {"p50": 1, "p90": 1, "p99": 1, "mean": 1, "std": 0, "min": 1},
    "runs": 1,
    "warmup": 0,
}


def test_a_symlink_out_of_the_bundle_is_refused(
    bundle: Path, tmp_path: Path, edgeship_cli: CliRecorder
) -> None:
    secret = tmp_path / "secret.onnx"
    model = bundle / "models" / "onnx-fp32.onnx"
    shutil.move(model, secret)
    model.symlink_to(secret)
    result = edgeship_cli("bench", str(bundle), "--runs", "1")
    assert_clean_error(result, "lists 'models/onnx-fp32.onnx', which leads outside the bundle")
    assert not (bundle / "bench").exists()


def test_a_string_schema_version_is_refused_and_never_rewritten(
    bundle: Path, edgeship_cli: CliRecorder
) -> None:
    manifest = manifest_of(bundle)
    manifest["schema_version"] = "2"
    write_manifest(bundle, manifest)
    before = tree_state(bundle)
    result = edgeship_cli("bench", str(bundle), "--runs", "1")
    assert_clean_error(result, "field 'schema_version'", "valid integer")
    assert tree_state(bundle) == before


@pytest.mark.parametrize("version", ["1", True, 1.0, 0])
def test_schema_version_is_a_positive_integer(bundle: Path, version: object) -> None:
    manifest = manifest_of(bundle)
    manifest["schema_version"] = version
    write_manifest(bundle, manifest)
    with pytest.raises(BundleError, match="schema_version"):
        Bundle.open(bundle)


def test_a_failed_bench_keeps_every_earlier_result(bundle: Path, edgeship_cli: CliRecorder) -> None:
    first = edgeship_cli("bench", str(bundle), "--runs", "2", "--warmup", "0")
    assert first.returncode == 0, first.stderr
    manifest = manifest_of(bundle)
    broken = bundle / manifest["variants"][1]["file"]
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 3])
    manifest["variants"][1].update(bytes=broken.stat().st_size, sha256=sha256_of(broken))
    write_manifest(bundle, manifest)
    before = tree_state(bundle)
    result = edgeship_cli("bench", str(bundle), "--runs", "2", "--warmup", "0", "--threads", "1")
    assert result.returncode == 1, result.stderr
    assert "onnx-int8-dynamic" in result.stderr and INTERNAL_ERROR not in result.stderr
    assert tree_state(bundle) == before, "raw results and the manifest change together or not at all"


def test_rebench_replaces_raw_results_without_leaving_strays(bundle: Path, edgeship_cli: CliRecorder) -> None:
    for _ in range(3):
        result = edgeship_cli("bench", str(bundle), "--runs", "2", "--warmup", "0", "--threads", "1")
        assert result.returncode == 0, result.stderr
        assert_consistent(bundle)
    assert len(list((bundle / "bench" / "local").iterdir())) == 2


KILL_AT_REPLACE = """
import os, sys
calls = {"n": 0}
real_replace = os.replace
when, at = os.environ["KILL_AT"].split(":")
def replace_then_die(source, target):
    calls["n"] += 1
    if when == "before" and calls["n"] == int(at):
        os._exit(137)
    real_replace(source, target)
    if when == "after" and calls["n"] == int(at):
        os._exit(137)
os.replace = replace_then_die
from edgeship.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("kill_at", ["before:1", "after:1", "after:2"])
def test_a_kill_at_any_rename_leaves_the_old_or_the_new_state(bundle: Path, kill_at: str) -> None:
    """quantize replaces int8-dynamic by two renames (the file, then the manifest), then removes the old
    file: killed before the first, between them, and before the cleanup."""
    old = Bundle.open(bundle).manifest.variant("onnx-int8-dynamic")
    before = (bundle / "manifest.json").read_bytes()
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AT_REPLACE, "quantize", str(bundle), "--scheme", "int8-dynamic"],
        capture_output=True,
        text=True,
        env={**os.environ, "KILL_AT": kill_at},
        timeout=600,
        check=False,
    )
    assert killed.returncode == 137, killed.stderr
    opened = Bundle.open(bundle)
    for variant in opened.manifest.variants:
        opened.verified_file(variant)
    manifest_kept = (bundle / "manifest.json").read_bytes() == before
    assert manifest_kept == (kill_at != "after:2")
    again = run_cli("quantize", str(bundle), "--scheme", "int8-dynamic")
    assert again.returncode == 0, again.stderr
    assert_consistent(bundle)
    assert Bundle.open(bundle).manifest.variant("onnx-int8-dynamic").created_at >= old.created_at


def test_leftovers_of_a_killed_export_are_removed_by_the_next(
    tmp_path: Path, bert_dir: Path, edgeship_cli: CliRecorder
) -> None:
    leftover = tmp_path / ".bert.staging-999999999-abcd"
    (leftover / "models").mkdir(parents=True)
    result = edgeship_cli("export", str(bert_dir), "--out", str(tmp_path / "bert"))
    assert result.returncode == 0, result.stderr
    assert not leftover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bert"]


def test_a_recipe_never_removes_a_bundle_it_did_not_make(
    tmp_path: Path, bert_dir: Path, text_csv: Path, edgeship_cli: CliRecorder
) -> None:
    out = tmp_path / "out"
    exported = edgeship_cli("export", str(bert_dir), "--out", str(out / "mine"))
    assert exported.returncode == 0, exported.stderr
    (out / "mine" / "notes.txt").write_text("my own notes")
    before = tree_state(out / "mine")
    recipe = tmp_path / "mine.yaml"
    recipe.write_text(TINY_RECIPE.format(name="mine", model=bert_dir, data=text_csv))
    refused = edgeship_cli("run", str(recipe), "--out", str(out))
    assert_clean_error(
        refused, f"{out / 'mine'} already exists and was not made by this recipe", "notes.txt", "--force"
    )
    assert tree_state(out / "mine") == before
    forced = edgeship_cli("run", str(recipe), "--out", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert f"Removing {out / 'mine'}" in forced.stderr
    assert not (out / "mine" / "notes.txt").exists()
    rerun = edgeship_cli("run", str(recipe), "--out", str(out))
    assert rerun.returncode == 0, rerun.stderr


def test_ctrl_c_says_what_was_kept(bundle: Path) -> None:
    before = tree_state(bundle)
    process = subprocess.Popen(
        [sys.executable, "-m", "edgeship", "bench", str(bundle), "--runs", "100000000", "--warmup", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a terminal's Ctrl-C finds it, even when the suite was started in the background (where the
        # shell makes every child ignore SIGINT)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(12)  # imports, probe and push take a few seconds; the benchmark then runs for hours
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted: finished steps and bundles are kept")
    assert "Traceback" not in stderr
    assert tree_state(bundle) == before


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("quantize", ["--scheme", "int4-weight"]),
        ("app", ["--platform", "ios", "--variant", "onnx-fp32"]),
        ("eval", ["--variant", "onnx-fp32", "--data"]),
    ],
)
def test_a_truncated_model_with_a_matching_sha256_is_named(
    bundle: Path, edgeship_cli: CliRecorder, text_csv: Path, command: str, args: list[str]
) -> None:
    manifest = manifest_of(bundle)
    model = bundle / manifest["variants"][0]["file"]
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    manifest["variants"][0].update(bytes=model.stat().st_size, sha256=sha256_of(model))
    write_manifest(bundle, manifest)
    before = tree_state(bundle)
    extra = [str(text_csv)] if command == "eval" else []
    result = edgeship_cli(command, str(bundle), *args, *extra)
    assert_clean_error(result, str(model), "corrupt or truncated")
    assert tree_state(bundle) == before
