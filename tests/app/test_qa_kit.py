"""Question-answering kits: a question and its context read in the windows Hugging Face's tokenizer makes, and the
best span over them cut from the context by its pieces' offsets, the same in every client (Python, Node, Chromium,
plain Java) as the bundle's own answer (edgeship's encoding and `best_spans` on the variant's logits); the kit's
files, README and refusal of other outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeship.appkit.heads import ANSWERING
from edgeship.devices.js_modules import js_modules
from edgeship.errors import BundleError
from edgeship.tasks.spans import SpanReferences
from tests.app.conftest import load_client
from tests.app.test_react_native_kit import node_modules_for_kit
from tests.conftest import run_cli

MAX_LENGTH = 64
LONG_CONTEXT = (
    "Charles Babbage designed the Analytical Engine, a mechanical general-purpose computer, in 1837. "
    "Ada Lovelace, the daughter of Lord Byron, translated an article about it by the Italian engineer Luigi "
    "Menabrea and added notes of her own; Note G described an algorithm for Bernoulli numbers, often called the "
    "first computer program. The engine was never finished: Babbage quarrelled with his engineer, Joseph "
    "Clement, and the British government withdrew its funding. A portion of the mill was built by his son Henry "
    "after his death, and the Science Museum in London completed the Difference Engine No. 2 in 1991, proving "
    "that the design would have worked. Lovelace's notes were rediscovered in the 1950s by B. V. Bowden."
)
QUESTIONS = [
    ("Who worked with Charles Babbage?", "Ada Lovelace worked with Charles Babbage in London."),
    (
        "¿Dónde está el Café «Élysée» — près de l'Élysée, naïvement?!",
        "Le Café Élysée (rue du Faubourg-Saint-Honoré) se trouve à Paris, près de l'Élysée; c'est naïf… mais vrai!",
    ),
    ("When did the Science Museum complete the Difference Engine?", LONG_CONTEXT),
    (
        "What did the government do to the funding of the engine that Babbage designed after he had a quarrel "
        "with his engineer Joseph Clement about the costs of the mill and the store in London?",
        LONG_CONTEXT,
    ),
    ("  Who?\t", "  東京 tab\there\u00a0nbsp ﬁne cafe\u0301 x\u200by  "),
    ("Anything?", ""),
]
"""A short context; accents and punctuation in the question and the context; a context of 3+ windows; a
question cut at max_length / 2 tokens; odd whitespace, CJK, a ligature, a combining accent and a zero-width
space; an empty context (no answer). All in the BMP, so UTF-16 offsets (JavaScript, Java) equal Python's."""


@pytest.fixture(scope="module")
def qa_bundle(tmp_path_factory: pytest.TempPathFactory, qa_dir: Path) -> Path:
    """The tiny random BERT QA model: ONNX fp32 and TFLite fp32 at max_length 64 (doc_stride 16)."""
    out = tmp_path_factory.mktemp("appkit") / "qa"
    export = ["export", str(qa_dir), "--out", str(out), "--max-length", str(MAX_LENGTH)]
    for args in (export, [*export, "--format", "tflite"]):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
    return out


def write_kit(bundle: Path, out: Path, platform: str, *args: str) -> Path:
    result = run_cli("app", str(bundle), "--platform", platform, "--out", str(out), *args)
    assert result.returncode == 0, result.stderr
    return out / "app" / platform


def bundle_windows(
    bundle: Path, cases: list[tuple[str, str]]
) -> tuple[SpanReferences, dict[str, np.ndarray]]:
    """edgeship's own encoding of the questions (Hugging Face's tokenizer with stride): each window's offsets
    and the question it belongs to, and the windows' inputs."""
    from edgeship.bundle import Bundle
    from edgeship.pipeline.features import encode_examples
    from edgeship.sources.data import QuestionExamples

    examples = QuestionExamples(
        questions=[question for question, _ in cases],
        contexts=[context for _, context in cases],
        answers=[[("", 0)] for _ in cases],
        ids=[str(i) for i in range(len(cases))],
        name="kit-check",
    )
    encoded = encode_examples(Bundle.open(bundle), examples)
    assert encoded.references is not None
    return encoded.references, encoded.inputs


def expected_answers(bundle: Path, variant_id: str, cases: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The bundle's answers: edgeship's windows, the variant's span logits, `best_spans`; the score is the best
    start + end logit (float64), None where the context has no tokens."""
    from edgeship.bundle import Bundle
    from edgeship.runtimes.base import open_session
    from edgeship.tasks.spans import best_spans

    opened = Bundle.open(bundle)
    variant = opened.manifest.variant(variant_id)
    assert variant is not None
    session = open_session(opened.verified_file(variant), variant.format)
    references, inputs = bundle_windows(bundle, cases)
    logits = np.concatenate(
        [
            session.run({k: v[i : i + 1] for k, v in inputs.items()})[0]
            for i in range(len(inputs["input_ids"]))
        ]
    )
    spans = best_spans(logits, references)
    scores: list[float | None] = [None] * len(cases)
    tokens = logits.shape[1]
    first, last = np.indices((tokens, tokens))
    allowed = (last >= first) & (last - first < references.max_answer_length)
    for feature, question in enumerate(references.example_of_feature):
        context = references.offsets[feature, :, 0] >= 0
        if context.any():
            pair = logits[feature, :, 0, None].astype(np.float64) + logits[feature, None, :, 1]
            best = float(np.where(allowed & context[:, None] & context[None, :], pair, -np.inf).max())
            previous = scores[question]
            scores[question] = best if previous is None else max(previous, best)
    return [
        {"text": context[start:end], "start": int(start), "end": int(end), "score": score}
        for (start, end), (_, context), score in zip(spans, cases, scores, strict=True)
    ]


def assert_same_answer(got: dict[str, Any], expected: dict[str, Any], case: tuple[str, str]) -> None:
    assert (got["start"], got["end"], got["text"]) == (
        expected["start"],
        expected["end"],
        expected["text"],
    ), case
    assert case[1][got["start"] : got["end"]] == got["text"]
    if expected["score"] is None:
        assert got["score"] is None, case
    else:
        assert got["score"] == pytest.approx(expected["score"], abs=1e-4), case


def test_questions_cover_windows_and_cuts(qa_bundle: Path) -> None:
    """The cases hold what they are meant to: a context of 3+ windows, a question cut at 32 tokens, BMP only."""
    import transformers

    references, _ = bundle_windows(qa_bundle, QUESTIONS)
    windows = np.bincount(references.example_of_feature, minlength=len(QUESTIONS))
    assert windows[2] >= 3 and windows[3] >= 3 and windows[0] == 1
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(qa_bundle / "tokenizer"))
    assert len(tokenizer(QUESTIONS[3][0], add_special_tokens=False)["input_ids"]) > MAX_LENGTH // 2
    assert all(ord(char) < 0x10000 for case in QUESTIONS for text in case for char in text)


@pytest.mark.parametrize(
    ("platform", "artifact", "variant"),
    [("ios", "ort", "onnx-fp32"), ("android", "tflite", "tflite-fp32")],
)
def test_reference_client_answers_are_the_bundles(
    qa_bundle: Path, tmp_path: Path, platform: str, artifact: str, variant: str
) -> None:
    """The client's windows (ids, token types, mask, offsets) are edgeship's; its answers (span, text, score)
    are the variant's logits decoded with `best_spans`; the script prints them."""
    kit = write_kit(qa_bundle, tmp_path, platform, "--artifact", artifact, "--variant", variant)
    client = load_client(kit).Client(kit)
    assert client.tokenizer is not None
    references, inputs = bundle_windows(qa_bundle, QUESTIONS)
    windows = [
        w for question, context in QUESTIONS for w in client.tokenizer.encode_question(question, context)
    ]
    assert len(windows) == len(references.example_of_feature)
    for feature, (feeds, offsets) in enumerate(windows):
        for name, values in inputs.items():
            assert feeds[name][0].tolist() == values[feature].tolist(), (name, feature)
        assert offsets.tolist() == references.offsets[feature].tolist(), feature
    expected = expected_answers(qa_bundle, variant, QUESTIONS)
    assert len({(e["start"], e["end"]) for e in expected}) > 3  # random weights still pick varied spans
    for case, answer in zip(QUESTIONS, expected, strict=True):
        assert_same_answer(client.answer(*case), answer, case)
    assert expected[-1] == {"text": "", "start": 0, "end": 0, "score": None}
    with pytest.raises(ValueError, match=r"use answer\(question, context\)"):
        client.classify(client.inputs_for_text("a text"))
    done = subprocess.run(
        [
            sys.executable,
            str(kit / "reference_client.py"),
            str(kit),
            "--question",
            QUESTIONS[2][0],
            LONG_CONTEXT,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    printed = json.loads(done.stdout)
    assert printed["question"] == QUESTIONS[2][0] and printed["context"] == LONG_CONTEXT
    assert_same_answer(printed, expected[2], QUESTIONS[2])
    refused = subprocess.run(
        [sys.executable, str(kit / "reference_client.py"), str(kit), "a text"], capture_output=True, text=True
    )
    assert refused.returncode == 2 and "--question Q CONTEXT" in refused.stderr


def test_more_windows_are_hugging_faces(qa_bundle: Path, tmp_path: Path) -> None:
    """Random questions (up to 60 words, cut) and contexts (up to 200 words, up to 10+ windows) from real
    sentences: the client's windows are edgeship's, window for window."""
    import random

    from edgeship.sources.datasets import load_rotten_tomatoes

    kit = write_kit(qa_bundle, tmp_path, "ios")
    client = load_client(kit).Client(kit)
    assert client.tokenizer is not None
    rng = random.Random(0)
    words = [word for text in load_rotten_tomatoes().texts[::40][:300] for word in text.split()]
    cases = [
        (
            " ".join(rng.choice(words) for _ in range(rng.choice([1, 5, 20, 60]))),
            " ".join(rng.choice(words) for _ in range(rng.choice([0, 10, 60, 200]))),
        )
        for _ in range(60)
    ]
    references, inputs = bundle_windows(qa_bundle, cases)
    windows = [w for question, context in cases for w in client.tokenizer.encode_question(question, context)]
    assert len(windows) == len(references.example_of_feature) > 100
    ids = np.concatenate([feeds["input_ids"] for feeds, _ in windows])
    assert np.array_equal(ids, inputs["input_ids"])
    assert np.array_equal(np.stack([offsets for _, offsets in windows]), references.offsets)


MODULES = js_modules()


def test_react_native_answerer_in_node(qa_bundle: Path, tmp_path: Path) -> None:
    """EdgeshipAnswerer.js (package.json main) on onnxruntime-node: tokenizers.js's windows are edgeship's (ids,
    token types, offsets), and the answers are the bundle's."""
    assert MODULES is not None and shutil.which("node"), "npm ci in js/ (scripts/setup.sh)"
    kit = write_kit(qa_bundle, tmp_path, "react-native", "--variant", "onnx-fp32")
    assert {p.name for p in (kit / "src").iterdir()} == {"EdgeshipAnswerer.js", "kit-core.js"}
    assert json.loads((kit / "package.json").read_text())["main"] == "src/EdgeshipAnswerer.js"
    readme = (kit / "README.md").read_text()
    assert "createAnswerer" in readme and 'await answerer.answer("Who worked with Charles Babbage?"' in readme
    assert "labels.txt" not in readme and not (kit / "assets" / "labels.txt").exists()
    node_modules_for_kit(kit, MODULES)
    (tmp_path / "cases.json").write_text(json.dumps(QUESTIONS), encoding="utf-8")
    (tmp_path / "answer.mjs").write_text(ANSWER_JS, encoding="utf-8")
    done = subprocess.run(
        ["node", str(tmp_path / "answer.mjs"), str(kit), str(tmp_path / "cases.json")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NODE_PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    references, inputs = bundle_windows(qa_bundle, QUESTIONS)
    js_windows = [w for line in lines[:-1] for w in line["windows"]]
    assert [w["input_ids"] for w in js_windows] == inputs["input_ids"].tolist()
    assert [w["token_type_ids"] for w in js_windows] == inputs["token_type_ids"].tolist()
    assert [w["offsets"] for w in js_windows] == references.offsets.tolist()
    expected = expected_answers(qa_bundle, "onnx-fp32", QUESTIONS)
    for case, line, answer in zip(QUESTIONS, lines, expected, strict=False):
        assert_same_answer(line["answer"], answer, case)
        assert line["answer"]["windows"] == len(line["windows"])
    assert lines[-1]["error"] == (
        "this kit's model answers a question about a context, it gives no label per text: "
        "use answer(question, context)"
    )


ANSWER_JS = """
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
const [kit, casesFile] = process.argv.slice(2);
const json = (name) => JSON.parse(readFileSync(join(kit, "assets", name), "utf8"));
const main = JSON.parse(readFileSync(join(kit, "package.json"), "utf8")).main;
const { createAnswerer } = await import(pathToFileURL(join(kit, main)).href);
const metadata = json("metadata.json");
const answerer = await createAnswerer({
  modelPath: join(kit, "assets", metadata.model.file),
  metadata,
  tokenizerJson: json("tokenizer.json"),
  tokenizerConfig: json("tokenizer_config.json"),
});
for (const [question, context] of JSON.parse(readFileSync(casesFile, "utf8"))) {
  const windows = answerer.textEncoder.encodeQuestion(question, context).map((w) => ({ ...w.values, offsets: w.offsets }));
  console.log(JSON.stringify({ answer: await answerer.answer(question, context), windows }));
}
try { answerer.classifyText("a text"); } catch (error) { console.log(JSON.stringify({ error: error.message })); }
"""


HAND_OFFSETS = [[-1, -1], [0, 3], [4, 9], [10, 12], [-1, -1]]
"""A window of five tokens: [CLS]-like, three context pieces ('Ada', 'Byron', 'is' of HAND_CONTEXT), [SEP]-like."""
HAND_CONTEXT = "Ada Byron is"
HAND_CASES = [
    ([[[9, 9], [1, 0], [0, 2], [0, 0], [9, 9]]], 30, (0, 9)),
    ([[[0, 0], [1, 0], [0, 5], [0, 0], [0, 0]]], 1, (4, 9)),
    ([[[0, 0], [0, 5], [0, 0], [5, 1], [0, 0]]], 30, (10, 12)),
    ([[[0, 0], [1, 1], [1, 1], [0, 0], [0, 0]], [[0, 0], [0, 0], [3, 0], [0, 1], [0, 0]]], 30, (4, 12)),
    ([[[0, 0], [1, 1], [0, 0], [0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0], [1, 1], [0, 0]]], 30, (0, 3)),
]
"""(logits per window [token][start, end], max_answer_length, the answer's span): the special tokens' big logits
do not count ('Ada Byron', 3); with max_answer_length 1, 'Ada Byron' (6) is too long and 'Byron' (5) wins; 'is'
(6) wins over 'Byron'...'Ada' (10), whose end is before its start; the second window's 'Byron is' (4) beats the
first's 2; and a tie between windows goes to the first ('Ada', not 'is')."""


def test_span_decoding_on_hand_written_logits(qa_bundle: Path, tmp_path: Path) -> None:
    """The reference client's and the JavaScript kit's span decoders pick the hand-checked spans (the Android
    kit's SpanDecoder.java in the javac test): context tokens only, start <= end, at most max_answer_length
    tokens, the best over windows, the first of ties."""
    kit = write_kit(qa_bundle, tmp_path, "android")
    client = load_client(kit)
    offsets = np.asarray(HAND_OFFSETS)
    for logits, longest, span in HAND_CASES:
        start, end, _ = client.best_span(
            [np.asarray(w, np.float32) for w in logits], [offsets] * len(logits), longest
        )
        assert (start, end) == span, (logits, longest)

    assert MODULES is not None and shutil.which("node"), "npm ci in js/ (scripts/setup.sh)"
    (tmp_path / "decode.mjs").write_text(DECODE_JS, encoding="utf-8")
    case = {"context": HAND_CONTEXT, "offsets": HAND_OFFSETS, "cases": HAND_CASES}
    (tmp_path / "case.json").write_text(json.dumps(case), encoding="utf-8")
    rn = write_kit(qa_bundle, tmp_path / "rn", "react-native")
    node_modules_for_kit(rn, MODULES)
    done = subprocess.run(
        ["node", str(tmp_path / "decode.mjs"), str(rn / "src" / "kit-core.js"), str(tmp_path / "case.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [tuple(span) for span in json.loads(done.stdout)] == [span for _, _, span in HAND_CASES]


DECODE_JS = """
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const core = await import(pathToFileURL(process.argv[2]).href);
const { context, offsets, cases } = JSON.parse(readFileSync(process.argv[3], "utf8"));
console.log(JSON.stringify(cases.map(([logits, longest]) => {
  const answer = core.bestSpan(context, logits.map(() => ({ offsets })), logits.map((w) => Float32Array.from(w.flat())), longest);
  return [answer.start, answer.end];
})));
"""


JAVA_HARNESS = """
import dev.edgeship.kit.QuestionEncoder;
import dev.edgeship.kit.SpanDecoder;
import dev.edgeship.kit.WordPieceTokenizer;
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

public class Harness {
    public static void main(String[] args) throws Exception {
        WordPieceTokenizer.Config config = new WordPieceTokenizer.Config();
        config.maxLength = Integer.parseInt(args[2]);
        WordPieceTokenizer tokenizer;
        try (InputStream vocab = new FileInputStream(args[0])) {
            tokenizer = new WordPieceTokenizer(WordPieceTokenizer.readVocab(vocab), config);
        }
        QuestionEncoder encoder = new QuestionEncoder(
            tokenizer, config.maxLength, Integer.parseInt(args[3]), Integer.parseInt(args[4]));
        int longest = Integer.parseInt(args[5]);
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        List<String> lines = Files.readAllLines(Paths.get(args[1]), StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i += 3) {
            String question = lines.get(i).replace("\\\\t", "\\t");
            String context = lines.get(i + 1).replace("\\\\t", "\\t");
            List<QuestionEncoder.Window> windows = encoder.encode(question, context);
            String[] values = lines.get(i + 2).trim().isEmpty() ? new String[0] : lines.get(i + 2).trim().split(" ");
            List<float[][]> logits = new ArrayList<>();
            for (int w = 0; w < windows.size(); w++) {
                QuestionEncoder.Window window = windows.get(w);
                out.println(Arrays.toString(window.encoding.inputIds) + "|" + Arrays.toString(window.encoding.tokenTypeIds)
                    + "|" + Arrays.toString(window.encoding.attentionMask) + "|" + Arrays.toString(window.starts)
                    + "|" + Arrays.toString(window.ends));
                float[][] rows = new float[config.maxLength][2];
                for (int t = 0; t < config.maxLength; t++) {
                    for (int c = 0; c < 2; c++) {
                        rows[t][c] = Float.parseFloat(values[(w * config.maxLength + t) * 2 + c]);
                    }
                }
                logits.add(rows);
            }
            SpanDecoder.Answer answer = SpanDecoder.best(context, windows, logits, longest);
            out.println("answer|" + answer.start + "|" + answer.end + "|" + answer.score);
        }
        String[] spans = args[7].split(",");
        int[] starts = new int[spans.length / 2];
        int[] ends = new int[spans.length / 2];
        for (int t = 0; t < starts.length; t++) {
            starts[t] = Integer.parseInt(spans[2 * t]);
            ends[t] = Integer.parseInt(spans[2 * t + 1]);
        }
        for (String line : Files.readAllLines(Paths.get(args[6]), StandardCharsets.UTF_8)) {
            String[] parts = line.split(";");
            List<QuestionEncoder.Window> windows = new ArrayList<>();
            List<float[][]> logits = new ArrayList<>();
            for (int w = 1; w < parts.length; w++) {
                String[] values = parts[w].split(" ");
                float[][] rows = new float[starts.length][2];
                for (int t = 0; t < starts.length; t++) {
                    rows[t][0] = Float.parseFloat(values[2 * t]);
                    rows[t][1] = Float.parseFloat(values[2 * t + 1]);
                }
                windows.add(new QuestionEncoder.Window(null, starts, ends));
                logits.add(rows);
            }
            SpanDecoder.Answer answer = SpanDecoder.best(args[8], windows, logits, Integer.parseInt(parts[0]));
            out.println("hand|" + answer.start + "|" + answer.end + "|" + answer.text);
        }
    }
}
"""


@pytest.mark.skipif(shutil.which("javac") is None, reason="no JDK (javac/java)")
def test_android_question_encoder_and_span_decoder_compiled_with_javac(
    qa_bundle: Path, tmp_path: Path
) -> None:
    """The Android kit's WordPieceTokenizer.pieces, QuestionEncoder and SpanDecoder (plain Java, which the Kotlin
    answerers call), compiled with javac: edgeship's windows, and on the bundle's logits the bundle's answers."""
    from edgeship.bundle import Bundle
    from edgeship.runtimes.base import open_session

    kit = write_kit(qa_bundle, tmp_path, "android", "--variant", "tflite-fp32")
    code = kit / "java" / "dev" / "edgeship" / "kit"
    assert sorted(p.name for p in code.iterdir()) == [
        "KitMetadata.kt",
        "LiteRtAnswerer.kt",
        "QuestionEncoder.java",
        "SpanDecoder.java",
        "WordPieceTokenizer.java",
    ]
    (tmp_path / "Harness.java").write_text(JAVA_HARNESS, encoding="utf-8")
    classes = tmp_path / "classes"
    sources = [
        str(code / name) for name in ("WordPieceTokenizer.java", "QuestionEncoder.java", "SpanDecoder.java")
    ]
    compiled = subprocess.run(
        ["javac", "-encoding", "UTF-8", "-d", str(classes), *sources, str(tmp_path / "Harness.java")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stderr
    references, inputs = bundle_windows(qa_bundle, QUESTIONS)
    opened = Bundle.open(qa_bundle)
    variant = opened.manifest.variant("tflite-fp32")
    assert variant is not None
    session = open_session(opened.verified_file(variant), variant.format)
    lines = []
    for number, (question, context) in enumerate(QUESTIONS):
        rows = np.flatnonzero(references.example_of_feature == number)
        logits = [session.run({k: v[row : row + 1] for k, v in inputs.items()})[0][0] for row in rows]
        flat = " ".join(repr(float(value)) for window in logits for value in window.ravel())
        lines += [question.replace("\t", "\\t"), context.replace("\t", "\\t"), flat]
    (tmp_path / "cases.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    hand = [
        ";".join([str(longest), *(" ".join(str(v) for row in w for v in row) for w in logits)])
        for logits, longest, _ in HAND_CASES
    ]
    (tmp_path / "hand.txt").write_text("\n".join(hand) + "\n", encoding="utf-8")
    metadata = json.loads((kit / "assets" / "metadata.json").read_text())
    preprocessing = metadata["preprocessing"]
    ran = subprocess.run(
        [
            "java",
            "-cp",
            str(classes),
            "Harness",
            str(kit / "assets" / "vocab.txt"),
            str(tmp_path / "cases.txt"),
            str(MAX_LENGTH),
            str(preprocessing["doc_stride"]),
            str(preprocessing["max_question_tokens"]),
            str(metadata["postprocessing"]["max_answer_length"]),
            str(tmp_path / "hand.txt"),
            ",".join(str(v) for span in HAND_OFFSETS for v in span),
            HAND_CONTEXT,
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    printed = ran.stdout.splitlines()
    windows = [line.split("|") for line in printed if not line.startswith(("answer|", "hand|"))]
    assert [json.loads(w[0]) for w in windows] == inputs["input_ids"].tolist()
    assert [json.loads(w[1]) for w in windows] == inputs["token_type_ids"].tolist()
    assert [json.loads(w[2]) for w in windows] == inputs["attention_mask"].tolist()
    assert [json.loads(w[3]) for w in windows] == references.offsets[:, :, 0].tolist()
    assert [json.loads(w[4]) for w in windows] == references.offsets[:, :, 1].tolist()
    expected = expected_answers(qa_bundle, "tflite-fp32", QUESTIONS)
    answers = [line.split("|")[1:] for line in printed if line.startswith("answer|")]
    for case, (start, end, score), answer in zip(QUESTIONS, answers, expected, strict=True):
        got = {"start": int(start), "end": int(end), "score": None if score == "null" else float(score)}
        assert_same_answer({**got, "text": case[1][got["start"] : got["end"]]}, answer, case)
    hand_answers = [line.split("|")[1:] for line in printed if line.startswith("hand|")]
    assert hand_answers == [
        [str(start), str(end), HAND_CONTEXT[start:end]] for _, _, (start, end) in HAND_CASES
    ]


def test_answerer_kit_files_metadata_and_readme(qa_bundle: Path, tmp_path: Path) -> None:
    kit = write_kit(qa_bundle, tmp_path / "ios", "ios")
    assets = kit / "Resources"
    metadata = json.loads((assets / "metadata.json").read_text())
    assert metadata["task"] == "question-answering" and "labels_file" not in metadata
    assert not (assets / "labels.txt").exists()
    assert metadata["postprocessing"] == {
        "kind": "answer",
        "output": "span_logits",
        "start_channel": 0,
        "end_channel": 1,
        "max_answer_length": 30,
        "score": "start logit + end logit",
    }
    preprocessing = metadata["preprocessing"]
    assert (preprocessing["doc_stride"], preprocessing["max_question_tokens"]) == (16, MAX_LENGTH // 2)
    assert metadata["outputs"][0]["shape"] == [1, MAX_LENGTH, 2] and metadata["model"]["metric"] == "f1"
    sources = kit / "Sources"
    assert sorted(p.name for p in sources.iterdir()) == [
        "KitMetadata.swift",
        "OrtAnswerer.swift",
        "QuestionEncoder.swift",
        "SpanDecoder.swift",
        "WordPieceTokenizer.swift",
    ]
    assert (
        "func answer(question: String, context: String) throws -> Answer"
        in (sources / "OrtAnswerer.swift").read_text()
    )
    decoder = (sources / "SpanDecoder.swift").read_text()
    assert "static func best(in context: String, windows: [QuestionEncoder.Window]" in decoder
    assert "first + maxAnswerLength" in decoder and "score > best!.score" in decoder
    assert (
        "func encode(question: String, context: String) throws -> [Window]"
        in (sources / "QuestionEncoder.swift").read_text()
    )
    assert "func pieces(_ text: String) -> [Piece]" in (sources / "WordPieceTokenizer.swift").read_text()
    assert "let doc_stride: Int?" in (sources / "KitMetadata.swift").read_text()
    readme = (kit / "README.md").read_text()
    assert (
        "windows starting at pieces 0, n - 16, 2(n - 16)" in readme
        and "`{text, start, end, score}`" in readme
    )
    assert '--question "a question" "its context"' in readme and "`labels.txt`" not in readme
    lite = write_kit(qa_bundle, tmp_path / "ios-lite", "ios", "--artifact", "tflite")
    assert "LiteRtAnswerer.swift" in {p.name for p in (lite / "Sources").iterdir()}

    android = write_kit(qa_bundle, tmp_path / "android", "android", "--artifact", "ort")
    code = android / "java" / "dev" / "edgeship" / "kit"
    answerer = (code / "OrtAnswerer.kt").read_text()
    assert "fun answer(question: String, context: String): SpanDecoder.Answer" in answerer
    assert "Array<Array<FloatArray>>" in answerer and "metadata.questionEncoder(context.assets)" in answerer
    assert "val isAnswerer: Boolean" in (code / "KitMetadata.kt").read_text()
    lite_android = write_kit(qa_bundle, tmp_path / "android-lite", "android")
    assert (
        "runSignature"
        in (lite_android / "java" / "dev" / "edgeship" / "kit" / "LiteRtAnswerer.kt").read_text()
    )


def test_output_that_is_not_span_logits_is_refused() -> None:
    for shape in ([1, 64], [1, 64, 3]):
        with pytest.raises(BundleError, match=r"outputs 'logits' of shape \[1, 64.*\], not span logits"):
            ANSWERING.check_output({"name": "logits", "shape": shape}, "onnx-fp32")
    ANSWERING.check_output({"name": "span_logits", "shape": [1, 64, 2]}, "onnx-fp32")
    ANSWERING.check_output({"name": "span_logits", "shape": [None, None, 2]}, "onnx-fp32")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from edgeship.devices.chromium import chromium

    assert MODULES is not None, "npm ci in js/ (scripts/setup.sh) installs the kit's JavaScript runtimes"
    with chromium() as driver:
        yield driver


ANSWER_PAGE = """
const [question, context, runs, done] = arguments;
const result = document.getElementById('result');
document.getElementById('question').value = question;
document.getElementById('text').value = context;
document.getElementById('run').click();
const wait = () => Number(result.dataset.runs || 0) > runs
  ? done({answer: JSON.parse(result.dataset.answer),
          marks: Array.from(document.querySelectorAll('#answered mark')).map((m) => m.textContent),
          shown: document.getElementById('answered').textContent,
          button: document.getElementById('run').textContent,
          status: document.getElementById('status').textContent})
  : document.getElementById('status').textContent.startsWith('Error')
    ? done({error: document.getElementById('status').textContent})
    : setTimeout(wait, 5);
wait();
"""


@pytest.mark.parametrize(("artifact", "variant"), [("onnx", "onnx-fp32"), ("tflite", "tflite-fp32")])
def test_web_answer_page_in_chromium(
    qa_bundle: Path, tmp_path: Path, browser: Any, artifact: str, variant: str
) -> None:
    """The page (onnxruntime-web / LiteRT.js) answers the bundle's answers: the context shown unchanged with the
    answer in one <mark>."""
    from edgeship.devices.chromium import open_kit_page, serve_kit

    kit = write_kit(qa_bundle, tmp_path, "web", "--artifact", artifact, "--variant", variant)
    assert (kit / "screenshot.png").stat().st_size > 10_000  # `edgeship app` answered the sample in Chromium
    readme = (kit / "README.md").read_text()
    assert "answers a typed question about a pasted text" in readme and "`bestSpan`" in readme
    cases = QUESTIONS[:3]
    expected = expected_answers(qa_bundle, variant, cases)
    assert MODULES is not None
    with serve_kit(kit, MODULES) as url:
        open_kit_page(browser, url)
        for runs, (case, answer) in enumerate(zip(cases, expected, strict=True)):
            shown = browser.execute_async_script(ANSWER_PAGE, *case, runs)
            assert "error" not in shown, shown
            assert_same_answer(shown["answer"], answer, case)
            assert shown["marks"] == [answer["text"]]
            assert shown["shown"] == case[1] and shown["button"] == "Answer"
