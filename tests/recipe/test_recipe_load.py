"""Recipe files: typed keys, errors with file, line and field, overrides, and a key for every CLI flag."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel

from edgeship import step_options
from edgeship.cli import app as cli_app
from edgeship.cli import register_commands
from edgeship.errors import EdgeshipError
from edgeship.export.registry import ExportOptions
from edgeship.options import internal_fields
from edgeship.recipe import schema
from edgeship.recipe.load import RecipeError, load_recipe
from edgeship.sources.model_source import ModelSource

REPOSITORY = Path(__file__).resolve().parents[2]
MINIMAL = "name: tiny\nteacher:\n  model: some/model\ndata:\n  train: rotten_tomatoes\n"

# Each recipe section extends the options model of the command it runs, so a flag and its recipe key are
# one declaration: (command, recipe section, the options model both share).
SHARED_OPTIONS = [
    ("export", schema.Export, ExportOptions),
    ("export", schema.Teacher, ModelSource),
    ("quantize", schema.Quantize, step_options.QuantizeSettings),
    ("distill", schema.Student, step_options.StudentChoice),
    ("distill", schema.Student, step_options.TrainingOptions),
    ("eval", schema.Data, step_options.EvalOptions),
    ("bench", schema.DeviceRun, step_options.BenchSettings),
    ("push", schema.Push, step_options.RolloutSettings),
    ("report", schema.Report, step_options.ReportOptions),
    ("app", schema.App, step_options.AppSettings),
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("command", "section", "shared"), SHARED_OPTIONS)
def test_recipe_sections_and_commands_share_one_options_model(
    command: str, section: type, shared: type[BaseModel]
) -> None:
    if not cli_app.registered_commands:
        register_commands()
    params = {param.name for param in typer.main.get_command(cli_app).commands[command].params}  # type: ignore[attr-defined]
    assert issubclass(section, shared)
    assert set(shared.model_fields) - internal_fields(shared) <= params, f"{command} lacks flags of {shared}"
    for name, field in shared.model_fields.items():  # inherited as declared, never redeclared
        assert repr(section.model_fields[name]) == repr(field), name


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
            "recipe.yaml:8: quantize.schemes.onnx.0: unknown scheme 'int3' (choose from: fp16, int4-weight, "
            "int8-dynamic, int8-static)",
        ),
        ("name: tiny\ndata:\n  train: x\n", "recipe.yaml: teacher: Field required"),
        (
            MINIMAL + "quantize:\n  schemes:\n    tflite: [int8-dynamic]\n",
            "recipe.yaml: quantize.schemes quantizes format tflite which is not exported",
        ),
        ("name: tiny\nteacher: [\n", "recipe.yaml:3: not valid YAML"),
        (
            MINIMAL + "quantize:\n  per_channel: true\n  per_channel: false\n",
            "recipe.yaml:8: quantize.per_channel is given twice (first on line 7)",
        ),
        ("- just a list\n", "recipe.yaml: a recipe is a mapping of sections"),
    ],
)
def test_bad_recipes_name_the_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(RecipeError) as error:
        load_recipe(write(tmp_path, text))
    line = error.value.one_line()
    assert line.startswith(f"error: {tmp_path / expected}") or line.startswith(f"error: {tmp_path}/"), line
    assert expected in line and "\n" not in line and "(hint: " in line


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "export:\n  formats: [onnx, tflitex]\n",
            "recipe.yaml:7: export.formats.1: unknown format 'tflitex'",
        ),
        (
            "student:\n  family: distilbert\n  formats: [onnx, coreml]\n",
            "recipe.yaml:8: student.formats.1: unknown format 'coreml'",
        ),
        (
            "devices:\n  - name: local\n  - name: raspberry\n",
            "recipe.yaml:8: devices.1.name: unknown device 'raspberry' (choose from: local,",
        ),
        ("push:\n  devices: [qemu-a72, pi]\n", "recipe.yaml:7: push.devices: unknown device 'pi'"),
    ],
)
def test_names_a_run_would_look_up_are_checked_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str, expected: str
) -> None:
    monkeypatch.setenv("EDGESHIP_CONFIG_DIR", str(tmp_path))  # no devices added
    with pytest.raises(RecipeError) as error:
        load_recipe(write(tmp_path, MINIMAL + extra))
    assert expected in error.value.one_line()


def test_data_files_must_exist_at_load(tmp_path: Path) -> None:
    missing = tmp_path / "reviews.csv"
    with pytest.raises(RecipeError) as error:
        load_recipe(write(tmp_path, MINIMAL + f"  eval: {missing}\n"))
    assert f"recipe.yaml:6: data.eval: '{missing}' is neither an existing file or folder nor a bundled" in (
        error.value.one_line()
    )
    missing.write_text("text,label\n")
    assert load_recipe(write(tmp_path, MINIMAL + f"  eval: {missing}\n")).data.eval == str(missing)


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
    with pytest.raises(RecipeError, match=r"--set 'data.train_samples=\[1,': the value is not valid YAML"):
        load_recipe(path, ["data.train_samples=[1,"])
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
    assert set(text.app.platforms) == {"android", "ios", "web", "react-native"}
