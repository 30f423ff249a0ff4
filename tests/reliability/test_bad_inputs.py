"""Bad inputs (data files, recipes, overrides, model configs, option values) end in one clean error line."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from edgeship.errors import EdgeshipError
from edgeship.sources.data import load_labelled
from edgeship.sources.loading import LoadedModel
from tests.conftest import run_cli
from tests.reliability.conftest import TINY_RECIPE, CliRecorder, assert_clean_error, tree_state

LABELS = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, bert_dir: Path) -> Path:
    """A tiny BERT bundle (onnx-fp32, 16 tokens), made once for the module."""
    out = tmp_path_factory.mktemp("bad-inputs") / "bert"
    result = run_cli(
        "export", str(bert_dir), "--out", str(out), "--max-length", "16", "--parity-samples", "2"
    )
    assert result.returncode == 0, result.stderr
    return out


def test_eval_data_that_is_not_utf8_names_the_line_and_byte(
    tmp_path: Path, bundle: Path, edgeship_cli: CliRecorder
) -> None:
    data = tmp_path / "latin1.csv"
    data.write_bytes("text,label\ngood film,positive\ncafé crème,neutral\n".encode("latin-1"))
    before = tree_state(bundle)
    result = edgeship_cli("eval", str(bundle), "--data", str(data))
    assert_clean_error(result, f"{data}:3: byte 0xe9 at offset 33 is not UTF-8", "re-save the file as UTF-8")
    assert tree_state(bundle) == before


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "list.jsonl",
            '{"text": "good", "label": "positive"}\n[1, 2]\n',
            ":2 is a JSON array, not an object",
        ),
        (
            "string.jsonl",
            '{"text": "good", "label": "positive"}\n\n"text"\n',
            ":3 is a JSON string, not an object",
        ),
        ("unlabelled.jsonl", '{"text": "good", "label": "positive"}\n{"text": "bad"}\n', ":2 has no 'label'"),
        ("short.csv", "text,label\ngood,positive\nbad\n", ":3 has no 'label'"),
    ],
)
def test_rows_that_are_not_labelled_objects_name_their_line(
    tmp_path: Path, bundle: Path, edgeship_cli: CliRecorder, name: str, content: str, expected: str
) -> None:
    data = tmp_path / name
    data.write_text(content, encoding="utf-8")
    before = tree_state(bundle)
    result = edgeship_cli("eval", str(bundle), "--data", str(data))
    assert_clean_error(result, f"{data}{expected}")
    assert tree_state(bundle) == before


def test_a_200_kb_csv_field_is_read_and_truncated_by_tokenization(
    tmp_path: Path, bundle: Path, edgeship_cli: CliRecorder
) -> None:
    data = tmp_path / "long.csv"
    data.write_text(f"text,label\n{'good ' * 40_000},positive\nbad film,negative\n", encoding="utf-8")
    result = edgeship_cli("eval", str(bundle), "--data", str(data))
    assert result.returncode == 0, result.stderr
    assert "onnx-fp32" in result.stdout


def test_a_utf8_file_saved_with_a_bom_reads_its_header(tmp_path: Path) -> None:
    data = tmp_path / "excel.csv"
    data.write_bytes("text,label\ngood film,positive\n".encode("utf-8-sig"))
    examples = load_labelled(data, LABELS)
    assert examples.labels == [2]


def write_recipe(tmp_path: Path, bert_dir: Path, data: Path, extra: str = "") -> Path:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        TINY_RECIPE.format(name="bad-inputs", model=bert_dir, data=data) + extra, encoding="utf-8"
    )
    return recipe


def test_a_recipe_that_is_not_utf8_names_the_line_and_byte(
    tmp_path: Path, bert_dir: Path, text_csv: Path, edgeship_cli: CliRecorder
) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_bytes(
        (TINY_RECIPE.format(name="bad-inputs", model=bert_dir, data=text_csv) + "# réglé\n").encode("latin-1")
    )
    result = edgeship_cli("run", str(recipe), "--out", str(tmp_path / "out"))
    assert_clean_error(
        result, f"{recipe}:10: byte 0xe9 at offset", "is not UTF-8", "re-save the file as UTF-8"
    )
    assert not (tmp_path / "out").exists()


def test_a_set_value_that_is_not_yaml_names_the_override(
    tmp_path: Path, bert_dir: Path, text_csv: Path, edgeship_cli: CliRecorder
) -> None:
    recipe = write_recipe(tmp_path, bert_dir, text_csv)
    result = edgeship_cli(
        "run", str(recipe), "--out", str(tmp_path / "out"), "--set", "data.train_samples=[1,"
    )
    assert_clean_error(
        result, "--set 'data.train_samples=[1,': the value is not valid YAML: expected the node content"
    )
    assert not (tmp_path / "out").exists()


def test_a_recipe_naming_an_unknown_device_fails_before_any_step(
    tmp_path: Path, bert_dir: Path, text_csv: Path, edgeship_cli: CliRecorder
) -> None:
    recipe = write_recipe(tmp_path, bert_dir, text_csv, "devices:\n  - name: local\n  - name: raspberry\n")
    started = time.perf_counter()
    result = edgeship_cli(
        "run", str(recipe), "--out", str(tmp_path / "out"), env={"EDGESHIP_CONFIG_DIR": str(tmp_path)}
    )
    assert time.perf_counter() - started < 10  # an export alone takes longer
    assert_clean_error(
        result, f"{recipe}:12: devices.1.name: unknown device 'raspberry' (choose from: local,", "devices add"
    )
    assert not (tmp_path / "out").exists()


def test_export_max_length_zero_is_refused_by_the_option(
    tmp_path: Path, bert_dir: Path, edgeship_cli: CliRecorder
) -> None:
    out = tmp_path / "bert"
    result = edgeship_cli("export", str(bert_dir), "--out", str(out), "--max-length", "0")
    assert_clean_error(result, "--max-length: Input should be greater than 0 (got 0)")
    assert not out.exists()


def test_export_max_length_beyond_the_position_embeddings_is_refused_once_the_config_is_read(
    tmp_path: Path, bert_dir: Path, edgeship_cli: CliRecorder
) -> None:
    out = tmp_path / "bert"
    result = edgeship_cli("export", str(bert_dir), "--out", str(out), "--max-length", "100000")
    assert_clean_error(
        result,
        f"--max-length 100000 is more than the 512 tokens '{bert_dir}' takes",
        "from 1 to 512",
    )
    assert not out.exists()


def test_roberta_positions_after_padding_lower_the_max_length() -> None:
    import transformers

    config = transformers.RobertaConfig(
        vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    model = transformers.RobertaForSequenceClassification(config)
    loaded = LoadedModel(
        model=model,
        framework="transformers",
        architecture=type(model).__name__,
        model_type="roberta",
        task="text-classification",
        labels=LABELS,
        source="tiny-roberta",
        config=config,
    )
    loaded.check_max_length(config.max_position_embeddings - 2)
    with pytest.raises(EdgeshipError, match=f"more than the {config.max_position_embeddings - 2} tokens"):
        loaded.check_max_length(config.max_position_embeddings - 1)


def test_a_corrupt_config_json_names_the_file_and_position(
    tmp_path: Path, bert_dir: Path, edgeship_cli: CliRecorder
) -> None:
    model = Path(shutil.copytree(bert_dir, tmp_path / "model"))
    (model / "config.json").write_text("{not json", encoding="utf-8")
    out = tmp_path / "bundle"
    result = edgeship_cli("export", str(model), "--out", str(out))
    assert_clean_error(
        result,
        f"{model / 'config.json'} is not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
        "re-save the model",
    )
    assert not out.exists()
