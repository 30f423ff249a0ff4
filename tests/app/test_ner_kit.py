"""Token-classification kits: words tagged at their first piece and IOB2 runs joined into entity spans with
character offsets, the same in every client (Python, Node, Chromium, plain Java) as the bundle's own logits
decoded here with seqeval's rules; the kit's files, README and variant choice on F1."""

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

from edgeship.appkit.heads import TAGGING
from edgeship.devices.js_modules import js_modules
from edgeship.errors import BundleError
from tests.app.conftest import MAX_LENGTH, load_client
from tests.app.test_react_native_kit import node_modules_for_kit
from tests.conftest import run_cli

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
TEXTS = [
    "Ada Lovelace worked with Charles Babbage in London.",
    "Angela Merkel met Emmanuel Macron at the Élysée Palace in Paris on Tuesday.",
    "The U.N. office (Geneva) hired José Ramírez-López, a Microsoft-trained engineer!",
    "  spaces\tand\u00a0tabs  東京 naïve CAFÉ  ",
    "",
    "New York Times reporters interviewed " + "many people from Google and Apple " * 3 + "in California.",
]
"""Accents, punctuation inside words, CJK, odd whitespace, an empty text, and one past max_length (32)."""


@pytest.fixture(scope="module")
def tagger_bundle(tmp_path_factory: pytest.TempPathFactory, tagger_dir: Path) -> Path:
    """The tiny random BERT tagger: ONNX fp32 and int8, TFLite fp32, at max_length 32."""
    out = tmp_path_factory.mktemp("appkit") / "tagger"
    export = ["export", str(tagger_dir), "--out", str(out), "--max-length", str(MAX_LENGTH)]
    for args in (export, [*export, "--format", "tflite"], ["quantize", str(out), "--scheme", "int8-dynamic"]):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
    return out


def write_kit(bundle: Path, out: Path, platform: str, *args: str) -> Path:
    result = run_cli("app", str(bundle), "--platform", platform, "--out", str(out), *args)
    assert result.returncode == 0, result.stderr
    return out / "app" / platform


def expected_entities(bundle: Path, variant_id: str, texts: list[str]) -> list[list[dict[str, Any]]]:
    """The bundle's own answer: the Hugging Face tokenizer's words and offsets, the variant's logits, each
    word's first-piece tag, and seqeval's entities (CoNLL rules) over the words."""
    import transformers
    from seqeval.metrics.sequence_labeling import get_entities

    from edgeship.bundle import Bundle
    from edgeship.runtimes.base import open_session

    opened = Bundle.open(bundle)
    variant = opened.manifest.variant(variant_id)
    assert variant is not None
    session = open_session(opened.verified_file(variant), variant.format)
    names = [spec.name for spec in opened.manifest.inputs]
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(bundle / "tokenizer"))
    answers = []
    for text in texts:
        feeds = tokenizer(
            text, padding="max_length", truncation=True, max_length=MAX_LENGTH, return_tensors="np"
        )
        logits = session.run({name: feeds[name].astype(np.int64) for name in names})[0][0]
        probabilities = np.exp(logits - logits.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        whole = tokenizer(text)  # untruncated: every word's full character span
        words = sorted({w for w in whole.word_ids() if w is not None})
        spans, tags, scores = [], [], []
        for word in words:
            first = whole.word_to_tokens(word).start
            if first > MAX_LENGTH - 2:  # its first piece was cut off
                break
            span = whole.word_to_chars(word)
            best = int(probabilities[first].argmax())
            spans.append((span.start, span.end))
            tags.append(TAGS[best])
            scores.append(float(probabilities[first, best]))
        answers.append(
            [
                {
                    "type": kind,
                    "text": text[spans[i][0] : spans[j][1]],
                    "start": spans[i][0],
                    "end": spans[j][1],
                    "score": float(np.mean(scores[i : j + 1])),
                }
                for kind, i, j in get_entities(tags)
            ]
        )
    return answers


def assert_same_entities(got: list[dict[str, Any]], expected: list[dict[str, Any]], text: str) -> None:
    assert [(e["type"], e["start"], e["end"], e["text"]) for e in got] == [
        (e["type"], e["start"], e["end"], e["text"]) for e in expected
    ], text
    np.testing.assert_allclose([e["score"] for e in got], [e["score"] for e in expected], atol=1e-4)
    for entity in got:
        assert text[entity["start"] : entity["end"]] == entity["text"]


HAND_TAGGED = "Ada Lovelace visited London and Paris with IBM Labs Corp Bob."
HAND_TAGS = ["B-PER", "I-PER", "O", "B-LOC", "O", "I-LOC", "O", "I-ORG", "I-ORG", "B-ORG", "I-PER", "O"]
HAND_ENTITIES = [
    ("PER", "Ada Lovelace", 0, 12),
    ("LOC", "London", 21, 27),
    ("LOC", "Paris", 32, 37),
    ("ORG", "IBM Labs", 43, 51),
    ("ORG", "Corp", 52, 56),
    ("PER", "Bob", 57, 60),
]
"""B-PER I-PER one person; an I-LOC after O and an I-ORG after O start entities; B-ORG after I-ORG starts a new
one, and so does I-PER after ORG."""


def hand_words() -> list[dict[str, Any]]:
    words, at = [], 0
    for word in HAND_TAGGED.replace(".", " .").split():
        start = HAND_TAGGED.index(word, at)
        at = start + len(word)
        words.append({"start": start, "end": at})
    return words


def pieces_case() -> tuple[str, list[tuple[int, int]], list[int], np.ndarray]:
    """'Lovelace met Babbage': Lovelace is three pieces (tokens 1-3) tagged B-PER, B-ORG, O: the word is a PER;
    met O; Babbage two pieces (5-6) tagged I-LOC, B-PER: a LOC (I- after O)."""
    text = "Lovelace met Babbage"
    token_tags = ["O", "B-PER", "B-ORG", "O", "O", "I-LOC", "B-PER", "O"]
    probabilities = np.full((len(token_tags), len(TAGS)), 0.05, dtype=np.float32)
    for token, tag in enumerate(token_tags):
        probabilities[token, TAGS.index(tag)] = 0.6
    return text, [(0, 8), (9, 12), (13, 20)], [1, 4, 5], probabilities


def test_span_decoding_on_hand_written_tags(tagger_bundle: Path, tmp_path: Path) -> None:
    """The reference client's and the JavaScript kit's decoders give the exact spans; later pieces of a word
    do not count."""
    kit = write_kit(tagger_bundle, tmp_path, "react-native")
    client = load_client(kit)
    words = [{**w, "tag": tag, "score": 0.5} for w, tag in zip(hand_words(), HAND_TAGS, strict=True)]
    entities = client.entities(HAND_TAGGED, words)
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in entities] == HAND_ENTITIES
    assert all(e["score"] == 0.5 for e in entities)

    text, spans, first_tokens, probabilities = pieces_case()
    tagged = client.tagged_words(text, spans, first_tokens, probabilities, TAGS)
    assert [w["tag"] for w in tagged] == ["B-PER", "O", "I-LOC"]
    pieces_entities = client.entities(text, tagged)
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in pieces_entities] == [
        ("PER", "Lovelace", 0, 8),
        ("LOC", "Babbage", 13, 20),
    ]
    assert pieces_entities[0]["score"] == pytest.approx(0.6 / (0.6 + 8 * 0.05))

    if MODULES is None or not shutil.which("node"):
        pytest.fail("npm ci in js/ (scripts/setup.sh) installs what the JavaScript kit's test needs")
    node_modules_for_kit(kit, MODULES)
    script = tmp_path / "decode.mjs"
    script.write_text(DECODE_JS, encoding="utf-8")
    case = {
        "hand": {"text": HAND_TAGGED, "words": words},
        "pieces": {
            "text": text,
            "words": [{"start": s, "end": e} for s, e in spans],
            "firstTokens": first_tokens,
            "logits": np.log(probabilities).ravel().tolist(),
            "labels": TAGS,
        },
    }
    (tmp_path / "case.json").write_text(json.dumps(case), encoding="utf-8")
    done = subprocess.run(
        ["node", str(script), str(kit / "src" / "kit-core.js"), str(tmp_path / "case.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    js = json.loads(done.stdout)
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in js["hand"]] == HAND_ENTITIES
    assert [(e["type"], e["text"]) for e in js["pieces"]] == [("PER", "Lovelace"), ("LOC", "Babbage")]
    assert js["pieces"][0]["score"] == pytest.approx(pieces_entities[0]["score"], abs=1e-6)


DECODE_JS = """
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const core = await import(pathToFileURL(process.argv[2]).href);
const { hand, pieces } = JSON.parse(readFileSync(process.argv[3], "utf8"));
const tagged = core.tagWords(pieces.text, pieces.words, pieces.firstTokens, Float32Array.from(pieces.logits), pieces.labels);
console.log(JSON.stringify({ hand: core.entities(hand.text, hand.words), pieces: core.entities(pieces.text, tagged) }));
"""


def test_tagger_kit_files_metadata_and_readme(tagger_bundle: Path, tmp_path: Path) -> None:
    kit = write_kit(tagger_bundle, tmp_path / "ios", "ios")
    assets = kit / "Resources"
    metadata = json.loads((assets / "metadata.json").read_text())
    assert metadata["task"] == "token-classification" and metadata["labels"] == TAGS
    assert (assets / "labels.txt").read_text().splitlines() == TAGS
    assert metadata["postprocessing"] == {
        "kind": "entities",
        "output": "logits",
        "activation": "softmax",
        "scheme": "IOB2",
        "word_tag": "first piece",
        "entity_types": ["LOC", "MISC", "ORG", "PER"],
    }
    assert (
        metadata["outputs"][0]["shape"] == [1, MAX_LENGTH, len(TAGS)] and metadata["model"]["metric"] == "f1"
    )
    sources = kit / "Sources"
    assert sorted(p.name for p in sources.iterdir()) == [
        "EntityDecoder.swift",
        "KitMetadata.swift",
        "OrtTagger.swift",
        "WordPieceTokenizer.swift",
    ]
    assert "func tag(_ text: String) throws -> [Entity]" in (sources / "OrtTagger.swift").read_text()
    decoder = (sources / "EntityDecoder.swift").read_text()
    assert "static func entities(in text: String, words: [TaggedWord]) -> [Entity]" in decoder
    assert 'word.tag.hasPrefix("I-"), type == openType' in decoder
    assert "func words(_ text: String) -> [Word]" in (sources / "WordPieceTokenizer.swift").read_text()
    readme = (kit / "README.md").read_text()
    assert "`B-X` starts an entity of type X" in readme and "`{type, text, start, end, score}`" in readme
    assert "`labels.txt`, `vocab.txt`" in readme and "(prints its entities)" in readme
    lite = write_kit(tagger_bundle, tmp_path / "ios-lite", "ios", "--artifact", "tflite")
    assert "LiteRtTagger.swift" in {p.name for p in (lite / "Sources").iterdir()}

    android = write_kit(tagger_bundle, tmp_path / "android", "android")
    code = android / "java" / "dev" / "edgeship" / "kit"
    assert sorted(p.name for p in code.iterdir()) == [
        "EntityDecoder.java",
        "KitMetadata.kt",
        "LiteRtTagger.kt",
        "WordPieceTokenizer.java",
    ]
    tagger = (code / "LiteRtTagger.kt").read_text()
    assert "runSignature" in tagger and "EntityDecoder.tagWords(words, encoded.firstTokens" in tagger
    assert "val isTagger: Boolean" in (code / "KitMetadata.kt").read_text()
    ort = write_kit(tagger_bundle, tmp_path / "android-ort", "android", "--artifact", "ort")
    assert (
        "Array<Array<FloatArray>>" in (ort / "java" / "dev" / "edgeship" / "kit" / "OrtTagger.kt").read_text()
    )


@pytest.mark.parametrize(
    ("platform", "artifact", "variant"),
    [("ios", "ort", "onnx-fp32"), ("android", "tflite", "tflite-fp32")],
)
def test_reference_client_entities_are_the_bundles(
    tagger_bundle: Path, tmp_path: Path, platform: str, artifact: str, variant: str
) -> None:
    """The client's tokens are the Hugging Face tokenizer's; its entities (types, offsets, texts, scores) are
    the bundle variant's logits decoded with seqeval; the script prints them."""
    import transformers

    kit = write_kit(tagger_bundle, tmp_path, platform, "--artifact", artifact, "--variant", variant)
    client = load_client(kit).Client(kit)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(tagger_bundle / "tokenizer"))
    expected = expected_entities(tagger_bundle, variant, TEXTS)
    assert sum(len(e) for e in expected) > 10  # random weights tag plenty of entities
    for text, answer in zip(TEXTS, expected, strict=True):
        assert client.tokenizer is not None
        feeds, _ = client.tokenizer.encode_words(client.tokenizer.words(text))
        ids = tokenizer(text, padding="max_length", truncation=True, max_length=MAX_LENGTH)["input_ids"]
        assert feeds["input_ids"][0].tolist() == ids, text
        assert_same_entities(client.tag(text), answer, text)
    with pytest.raises(ValueError, match=r"tags each word, it gives no label per text: use tag\(text\)"):
        client.classify(client.inputs_for_text("a text"))
    done = subprocess.run(
        [sys.executable, str(kit / "reference_client.py"), str(kit), TEXTS[0]],
        capture_output=True,
        text=True,
        check=True,
    )
    printed = json.loads(done.stdout)
    assert printed["text"] == TEXTS[0]
    assert_same_entities(printed["entities"], expected[0], TEXTS[0])


MODULES = js_modules()


def test_react_native_tagger_in_node(tagger_bundle: Path, tmp_path: Path) -> None:
    """EdgeshipTagger.js (package.json main) on onnxruntime-node: the bundle's entities, offsets into the text."""
    assert MODULES is not None and shutil.which("node"), "npm ci in js/ (scripts/setup.sh)"
    kit = write_kit(tagger_bundle, tmp_path, "react-native", "--variant", "onnx-fp32")
    assert {p.name for p in (kit / "src").iterdir()} == {"EdgeshipTagger.js", "kit-core.js"}
    assert json.loads((kit / "package.json").read_text())["main"] == "src/EdgeshipTagger.js"
    readme = (kit / "README.md").read_text()
    assert "createTagger" in readme and "`tagText`" in readme
    metadata = json.loads((kit / "assets" / "metadata.json").read_text())
    node_modules_for_kit(kit, MODULES)
    (tmp_path / "texts.json").write_text(json.dumps(TEXTS), encoding="utf-8")
    (tmp_path / "tag.mjs").write_text(TAG_JS, encoding="utf-8")
    done = subprocess.run(
        ["node", str(tmp_path / "tag.mjs"), str(kit), str(tmp_path / "texts.json")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NODE_PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    expected = expected_entities(tagger_bundle, metadata["model"]["variant"], TEXTS)
    for text, line, answer in zip(TEXTS, lines, expected, strict=False):
        assert_same_entities(line["entities"], answer, text)
    assert (
        lines[-1]["error"] == "this kit's model tags each word, it gives no label per text: use tagText(text)"
    )


TAG_JS = """
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
const [kit, textsFile] = process.argv.slice(2);
const json = (name) => JSON.parse(readFileSync(join(kit, "assets", name), "utf8"));
const main = JSON.parse(readFileSync(join(kit, "package.json"), "utf8")).main;
const { createTagger } = await import(pathToFileURL(join(kit, main)).href);
const metadata = json("metadata.json");
const tagger = await createTagger({
  modelPath: join(kit, "assets", metadata.model.file),
  metadata,
  tokenizerJson: json("tokenizer.json"),
  tokenizerConfig: json("tokenizer_config.json"),
});
for (const text of JSON.parse(readFileSync(textsFile, "utf8"))) {
  console.log(JSON.stringify({ entities: (await tagger.tagText(text)).entities }));
}
try { tagger.classifyText("a text"); } catch (error) { console.log(JSON.stringify({ error: error.message })); }
"""


JAVA_HARNESS = """
import dev.edgeship.kit.EntityDecoder;
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
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        for (String text : Files.readAllLines(Paths.get(args[1]), StandardCharsets.UTF_8)) {
            List<WordPieceTokenizer.Word> words = tokenizer.words(text);
            WordPieceTokenizer.WordEncoding encoded = tokenizer.encodeWords(words);
            StringBuilder spans = new StringBuilder();
            for (WordPieceTokenizer.Word w : words) spans.append(w.start).append(',').append(w.end).append(' ');
            out.println(Arrays.toString(encoded.encoding.inputIds) + "|" + Arrays.toString(encoded.firstTokens)
                + "|" + spans.toString().trim());
        }
        String text = "Lovelace met Babbage";
        float[][] logits = new float[8][9];
        String[] tokenTags = {"O", "B-PER", "B-ORG", "O", "O", "I-LOC", "B-PER", "O"};
        List<String> labels = Arrays.asList(args[3].split(","));
        for (int t = 0; t < 8; t++) logits[t][labels.indexOf(tokenTags[t])] = 2f;
        List<WordPieceTokenizer.Word> words = tokenizer.words(text);
        List<EntityDecoder.TaggedWord> tagged = EntityDecoder.tagWords(words, new int[] {1, 4, 5}, logits, labels);
        for (EntityDecoder.Entity e : EntityDecoder.entities(text, tagged)) out.println(e);
        List<EntityDecoder.TaggedWord> hand = new ArrayList<>();
        String[] handTags = args[4].split(",");
        String[] handSpans = args[5].split(",");
        for (int i = 0; i < handTags.length; i++) {
            hand.add(new EntityDecoder.TaggedWord(Integer.parseInt(handSpans[2 * i]), Integer.parseInt(handSpans[2 * i + 1]), handTags[i], 0.5f));
        }
        for (EntityDecoder.Entity e : EntityDecoder.entities(args[6], hand)) out.println(e);
    }
}
"""


@pytest.mark.skipif(shutil.which("javac") is None, reason="no JDK (javac/java)")
def test_android_words_and_decoder_compiled_with_javac(tagger_bundle: Path, tmp_path: Path) -> None:
    """The Android kit's WordPieceTokenizer.words/encodeWords and EntityDecoder (plain Java, which the Kotlin
    taggers call): the reference client's words, ids and first pieces, and the hand-written spans."""
    kit = write_kit(tagger_bundle, tmp_path, "android")
    code = kit / "java" / "dev" / "edgeship" / "kit"
    (tmp_path / "Harness.java").write_text(JAVA_HARNESS, encoding="utf-8")
    classes = tmp_path / "classes"
    sources = [
        str(code / "WordPieceTokenizer.java"),
        str(code / "EntityDecoder.java"),
        str(tmp_path / "Harness.java"),
    ]
    subprocess.run(["javac", "-d", str(classes), *sources], check=True, capture_output=True)
    texts = [t for t in TEXTS if t.strip() and "\n" not in t]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    spans = ",".join(f"{w['start']},{w['end']}" for w in hand_words())
    done = subprocess.run(
        [
            "java",
            "-cp",
            str(classes),
            "Harness",
            str(kit / "assets" / "vocab.txt"),
            str(tmp_path / "texts.txt"),
            str(MAX_LENGTH),
            ",".join(TAGS),
            ",".join(HAND_TAGS),
            spans,
            HAND_TAGGED,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    client = load_client(kit).Client(kit)
    assert client.tokenizer is not None
    for text, line in zip(texts, lines, strict=False):
        words = client.tokenizer.words(text)
        feeds, first_tokens = client.tokenizer.encode_words(words)
        ids, firsts, java_spans = line.split("|")
        assert json.loads(ids) == feeds["input_ids"][0].tolist(), text
        assert json.loads(firsts) == first_tokens, text
        assert java_spans.split() == [f"{s},{e}" for s, e, _ in words], text
    decoded = lines[len(texts) :]
    assert [d.rsplit(" ", 1)[0] for d in decoded[:2]] == ["PER 'Lovelace' [0, 8)", "LOC 'Babbage' [13, 20)"]
    assert float(decoded[0].rsplit(" ", 1)[1]) == pytest.approx(1 / (1 + 8 * np.exp(-2)), abs=1e-6)
    assert decoded[2:] == [
        f"{kind} '{text}' [{start}, {end}) 0.5" for kind, text, start, end in HAND_ENTITIES
    ]


def _with_f1(bundle: Path, copy: Path, f1: dict[str, float | None]) -> Path:
    """A copy of `bundle` whose variants' accuracy (F1) is `f1` (by id; None elsewhere)."""
    shutil.copytree(bundle, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    for variant in manifest["variants"]:
        variant["accuracy"] = f1.get(variant["id"])
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@pytest.mark.parametrize(
    ("f1", "max_drop", "chosen", "words"),
    [
        (
            {"onnx-fp32": 0.80, "onnx-int8-dynamic": 0.795},
            "1",
            "onnx-int8-dynamic",
            "within 1 point(s) of the best f1 (80.0%)",
        ),
        ({"onnx-fp32": 0.80, "onnx-int8-dynamic": 0.785}, "1", "onnx-fp32", "f1 80.0%,"),
        ({"onnx-fp32": 0.80, "onnx-int8-dynamic": 0.785}, "2", "onnx-int8-dynamic", "f1 78.5%,"),
        ({}, "1", "onnx-int8-dynamic", "no f1 measured: fp32 or tagging >= 99% of tokens as it does"),
    ],
)
def test_choice_reads_f1_in_percent_points(
    tagger_bundle: Path, tmp_path: Path, f1: dict[str, float], max_drop: str, chosen: str, words: str
) -> None:
    """A point of --max-accuracy-drop is 1% of F1, shown as a percentage; without F1, int8 qualifies on the
    share of tokens it tags as PyTorch does (parity)."""
    bundle = _with_f1(tagger_bundle, tmp_path / "bundle", f1)
    kit = write_kit(bundle, tmp_path, "ios", "--max-accuracy-drop", max_drop)
    model = json.loads((kit / "Resources" / "metadata.json").read_text())["model"]
    assert model["variant"] == chosen and words in model["chosen_because"], model["chosen_because"]


def test_output_that_is_not_per_token_is_refused() -> None:
    with pytest.raises(BundleError, match=r"outputs 'logits' of shape \[1, 9\], not tag logits"):
        TAGGING.check_output({"name": "logits", "shape": [1, 9]}, "onnx-fp32")
    TAGGING.check_output({"name": "logits", "shape": [1, 32, 9]}, "onnx-fp32")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from edgeship.devices.chromium import chromium

    assert MODULES is not None, "npm ci in js/ (scripts/setup.sh) installs the kit's JavaScript runtimes"
    with chromium() as driver:
        yield driver


TAG_PAGE = """
const [text, runs, done] = arguments;
const result = document.getElementById('result');
document.getElementById('text').value = text;
document.getElementById('run').click();
const wait = () => Number(result.dataset.runs || 0) > runs
  ? done({entities: JSON.parse(result.dataset.entities),
          marks: Array.from(document.querySelectorAll('#tagged mark')).map((m) => [m.dataset.type, m.textContent]),
          shown: document.getElementById('tagged').textContent,
          button: document.getElementById('run').textContent})
  : setTimeout(wait, 5);
wait();
"""


@pytest.mark.parametrize(("artifact", "variant"), [("onnx", "onnx-fp32"), ("tflite", "tflite-fp32")])
def test_web_tagger_page_in_chromium(
    tagger_bundle: Path, tmp_path: Path, browser: Any, artifact: str, variant: str
) -> None:
    """The page (onnxruntime-web / LiteRT.js) highlights the bundle's entities in the typed text: one <mark> per
    entity with its type, the text itself unchanged around them."""
    from edgeship.devices.chromium import open_kit_page, serve_kit

    kit = write_kit(tagger_bundle, tmp_path, "web", "--artifact", artifact, "--variant", variant)
    assert (kit / "screenshot.png").stat().st_size > 10_000  # `edgeship app` tagged the sample in Chromium
    assert "highlights each named entity" in (kit / "README.md").read_text()
    texts = TEXTS[:3]
    expected = expected_entities(tagger_bundle, variant, texts)
    assert MODULES is not None
    with serve_kit(kit, MODULES) as url:
        open_kit_page(browser, url)
        for runs, (text, answer) in enumerate(zip(texts, expected, strict=True)):
            shown = browser.execute_async_script(TAG_PAGE, text, runs)
            assert_same_entities(shown["entities"], answer, text)
            assert shown["marks"] == [[e["type"], e["text"]] for e in answer]
            assert shown["shown"] == text and shown["button"] == "Tag"
