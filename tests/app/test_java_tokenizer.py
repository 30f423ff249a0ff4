"""The kit's pure-Java WordPiece tokenizer, compiled with javac, against the Hugging Face tokenizer."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

HARNESS = """
import dev.edgeship.kit.WordPieceTokenizer;
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

public class Harness {
    public static void main(String[] args) throws Exception {
        WordPieceTokenizer.Config config = new WordPieceTokenizer.Config();
        config.maxLength = Integer.parseInt(args[2]);
        config.lowercase = Boolean.parseBoolean(args[3]);
        config.stripAccents = Boolean.parseBoolean(args[4]);
        WordPieceTokenizer tokenizer;
        try (InputStream vocab = new FileInputStream(args[0])) {
            tokenizer = new WordPieceTokenizer(WordPieceTokenizer.readVocab(vocab), config);
        }
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        for (String line : Files.readAllLines(Paths.get(args[1]), StandardCharsets.UTF_8)) {
            String text = line.replace("\\\\t", "\\t");
            WordPieceTokenizer.Encoding e = tokenizer.encode(text);
            out.println(Arrays.toString(e.inputIds) + "|" + Arrays.toString(e.attentionMask));
        }
    }
}
"""


@pytest.fixture(scope="module")
def android_kit(kit_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("java-kit")
    result = run_cli("app", str(kit_bundle), "--platform", "android", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out / "app" / "android"


@pytest.mark.skipif(
    shutil.which("javac") is None or shutil.which("java") is None, reason="no JDK (javac/java)"
)
def test_java_tokenizer_matches_hugging_face(
    android_kit: Path, kit_bundle: Path, sentences: list[str], tmp_path: Path
) -> None:
    import transformers

    source = android_kit / "java" / "dev" / "edgeship" / "kit" / "WordPieceTokenizer.java"
    (tmp_path / "Harness.java").write_text(HARNESS, encoding="utf-8")
    classes = tmp_path / "classes"
    compiled = subprocess.run(
        ["javac", "-encoding", "UTF-8", "-d", str(classes), str(source), str(tmp_path / "Harness.java")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stderr
    metadata = json.loads((android_kit / "assets" / "metadata.json").read_text())["preprocessing"]
    texts = [text.replace("\t", "\\t") for text in sentences]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    ran = subprocess.run(
        [
            "java",
            "-cp",
            str(classes),
            "Harness",
            str(android_kit / "assets" / "vocab.txt"),
            str(tmp_path / "texts.txt"),
            str(metadata["max_length"]),
            str(metadata["lowercase"]).lower(),
            str(metadata["strip_accents"]).lower(),
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert len(lines) == len(sentences) >= 300

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(kit_bundle / "tokenizer"))
    expected = tokenizer(
        sentences,
        padding="max_length",
        truncation=True,
        max_length=metadata["max_length"],
        return_tensors="np",
    )
    java_ids = np.array([json.loads(line.split("|")[0]) for line in lines])
    java_mask = np.array([json.loads(line.split("|")[1]) for line in lines])
    mismatched = [sentences[i] for i in np.flatnonzero((java_ids != expected["input_ids"]).any(axis=1))]
    assert mismatched == []
    assert np.array_equal(java_mask, expected["attention_mask"])
    assert (java_ids == tokenizer.unk_token_id).sum() > 0  # the 150-letter word and the emoji
