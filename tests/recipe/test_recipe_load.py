"""Recipe files: typed keys, errors with file, line and field, overrides, and a key for every CLI flag."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest
import typer

from edgeship.cli import app as cli_app
from edgeship.cli import register_commands
from edgeship.errors import EdgeshipError
from edgeship.recipe.load import RecipeError, load_recipe
from edgeship.recipe.schema import Recipe

REPOSITORY = Path(__file__).resolve().parents[2]
MINIMAL = "name: tiny\nteacher:\n  model: some/model\ndata:\n  train: rotten_tomatoes\n"

# Every flag of the single-step commands and the recipe key that sets it ("(bundle)": the recipe's own
# bundles play that part; "(device)": the device entry itself).
RECIPE_KEY_OF_FLAG = {
    "export": {
        "model": "teacher.model",
        "out": "out",
        "artifact_format": "export.formats",
        "checkpoint": "teacher.checkpoint",
        "task": "teacher.task",
        "labels": "teacher.labels",
        "revision": "teacher.revision",
        "max_length": "export.max_length",
        "opset": "export.opset",
        "optimize": "export.optimize",
        "parity_samples": "export.parity_samples",
        "precision": "export.precision",
        "max_batch": "export.max_batch",
        "workspace_mb": "export.workspace_mb",
        "timing_cache": "export.timing_cache",
        "device": "export.device",
    },
    "quantize": {
        "bundle": "(bundle)",
        "scheme": "quantize.schemes",
        "artifact_format": "quantize.schemes",
        "source": "quantize.source",
        "calibration_data": "data.calibration",
        "calibration_samples": "quantize.calibration_samples",
        "calibration_method": "quantize.calibration_method",
        "block_size": "quantize.block_size",
        "symmetric": "quantize.symmetric",
        "int4_algorithm": "quantize.int4_algorithm",
        "per_channel": "quantize.per_channel",
        "target_cpu": "quantize.target_cpu",
        "target_runtime": "quantize.target_runtime",
        "keep_float": "quantize.keep_float",
        "eval_data": "data.eval",
        "eval_split": "data.split",
        "min_agreement": "quantize.min_agreement",
        "max_accuracy_drop": "quantize.max_accuracy_drop",
    },
    "distill": {
        "teacher": "teacher.model",
        "student": "student.family",
        "data": "data.train",
        "out": "out",
        "eval_data": "data.eval",
        "teacher_checkpoint": "teacher.checkpoint",
        "layers": "student.layers",
        "hidden_size": "student.hidden_size",
        "variant": "student.variant",
        "student_config": "student.student_config",
        "epochs": "student.epochs",
        "batch_size": "student.batch_size",
        "lr": "student.lr",
        "max_length": "export.max_length",
        "temperature": "student.temperature",
        "alpha": "student.alpha",
        "hidden_weight": "student.hidden_weight",
        "attention_weight": "student.attention_weight",
        "hidden_loss": "student.hidden_loss",
        "seed": "data.seed",
        "checkpoint_every": "student.checkpoint_every",
        "checkpoint_dir": "student.checkpoint_dir",
        "resume": "student.resume",
        "mixed_precision": "student.mixed_precision",
    },
    "eval": {
        "bundle": "(bundle)",
        "data": "data.eval",
        "variant": "devices.variants",
        "split": "data.split",
        "batch_size": "data.batch_size",
    },
    "bench": {
        "bundle": "(bundle)",
        "device": "devices.name",
        "variant": "devices.variants",
        "threads": "devices.threads",
        "runs": "devices.runs",
        "warmup": "devices.warmup",
        "batch": "devices.batch",
        "seq_len": "devices.seq_len",
    },
    "report": {"bundle": "(bundle)", "out": "report.out"},
    "push": {
        "bundle": "push.bundle",
        "device": "push.devices",
        "devices": "push.devices",
        "canary": "push.canary",
        "variant": "push.variant",
        "max_parity_diff": "push.max_parity_diff",
    },
    "app": {
        "bundle": "app.bundle",
        "platform": "app.platforms",
        "artifact": "app.artifact",
        "variant": "app.variant",
        "out": "app.out",
    },
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def recipe_key_exists(key: str) -> bool:
    """Whether `section.field` names a field of the recipe model (lists of sections included)."""
    model: type = Recipe
    for part in key.split("."):
        fields = model.model_fields  # type: ignore[attr-defined]
        if part not in fields:
            return False
        annotation = fields[part].annotation
        inner = [arg for arg in getattr(annotation, "__args__", ()) if hasattr(arg, "model_fields")]
        model = inner[0] if inner else annotation
    return True


def test_every_flag_of_the_single_step_commands_has_a_recipe_key() -> None:
    if not cli_app.registered_commands:
        register_commands()
    commands = typer.main.get_command(cli_app).commands  # type: ignore[attr-defined]
    for name, keys in RECIPE_KEY_OF_FLAG.items():
        flags = {param.name for param in commands[name].params}
        assert flags == set(keys), f"{name}: flags without a recipe key: {sorted(flags - set(keys))}"
        for flag, key in keys.items():
            assert key == "(bundle)" or recipe_key_exists(key), f"{name} --{flag}: no recipe key {key}"


def test_minimal_recipe_gets_the_defaults(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, MINIMAL))
    assert recipe.export.formats == ["onnx"] and recipe.quantize.schemes == {}
    assert [device.name for device in recipe.devices] == ["local"] and recipe.student is None
    assert recipe.data.eval_samples == 2000 and recipe.report.enabled


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL + "  trian_samples: 5\n",
            "recipe.yaml:6: data.trian_samples: Extra inputs are not permitted",
        ),
        (
            MINIMAL.replace("model: some/model", "model: m\n  fine_tune:\n    epochs: 0"),
            "recipe.yaml:5: teacher.fine_tune.epochs: Input should be greater than or equal to 1 (got 0)",
        ),
        (
            MINIMAL + "devices:\n  - name: local\n  - name: pi\n    runs: many\n",
            "recipe.yaml:9: devices.1.runs: Input should be a valid integer",
        ),
        (
            MINIMAL + "quantize:\n  schemes:\n    onnx: [int3]\n",
            "recipe.yaml:8: quantize.schemes.onnx.0: Input should be 'int8-dynamic', 'int8-static', "
            "'int4-weight' or 'fp16' (got 'int3')",
        ),
        ("name: tiny\ndata:\n  train: x\n", "recipe.yaml: teacher: Field required"),
        (
            MINIMAL + "quantize:\n  schemes:\n    tflite: [int8-dynamic]\n",
            "recipe.yaml: recipe: quantize.schemes quantizes format tflite which is not exported",
        ),
        ("name: tiny\nteacher: [\n", "recipe.yaml:3: not valid YAML"),
        ("- just a list\n", "recipe.yaml: a recipe is a mapping of sections"),
    ],
)
def test_bad_recipes_name_the_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(RecipeError) as error:
        load_recipe(write(tmp_path, text))
    line = error.value.one_line()
    assert line.startswith(f"error: {tmp_path / expected}") or line.startswith(f"error: {tmp_path}/"), line
    assert expected in line and "\n" not in line and "(hint: " in line


def test_overrides_are_typed_and_checked(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    recipe = load_recipe(path, ["data.train_samples=500", "quantize.schemes={onnx: [int8-dynamic]}"])
    assert recipe.data.train_samples == 500 and recipe.quantize.schemes == {"onnx": ["int8-dynamic"]}
    with pytest.raises(RecipeError, match="--set 'data.train_samples' is not KEY=VALUE"):
        load_recipe(path, ["data.train_samples"])
    with pytest.raises(
        RecipeError, match=r"recipe.yaml \(--set data.train_samples=x\): data.train_samples: .*\(got 'x'\)"
    ):
        load_recipe(path, ["data.train_samples=x"])
    with pytest.raises(EdgeshipError, match="does not exist"):
        load_recipe(tmp_path / "missing.yaml")


def test_example_recipes_load_and_the_demo_runs_the_text_example() -> None:
    examples = sorted((REPOSITORY / "examples").glob("*.yaml"))
    assert {path.name for path in examples} >= {"text-rotten-tomatoes.yaml", "vision-fashion-mnist.yaml"}
    for path in examples:
        recipe = load_recipe(path)
        assert recipe.student is not None and recipe.devices and recipe.report.enabled
    packaged = REPOSITORY / "edgeship" / "recipe" / "examples" / "text-rotten-tomatoes.yaml"
    assert filecmp.cmp(REPOSITORY / "examples" / "text-rotten-tomatoes.yaml", packaged, shallow=False)
    text = load_recipe(packaged)
    assert text.export.formats == ["onnx", "tflite"] and {d.name for d in text.devices} == {
        "local",
        "qemu-a72",
    }
    assert set(text.app.platforms) == {"android", "ios"}
