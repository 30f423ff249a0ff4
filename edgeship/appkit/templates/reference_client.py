"""Reference client for this kit: the app's steps in Python, to check an app's numbers against.

Reads metadata.json, preprocesses (WordPiece tokenizer or image normalisation, as the Kotlin/Swift code
does), runs the model with onnxruntime (.ort) or ai-edge-litert (.tflite), and applies softmax and labels
(a classifier) or returns the unit-length embedding (a feature-extraction kit: cosine = dot product).
Needs only numpy and the one runtime (plus Pillow for images); nothing of edgeship.

    python reference_client.py KIT_DIR "a text to classify" ...
    python reference_client.py KIT_DIR --image photo.jpg
    python reference_client.py KIT_DIR "a text to embed" ...            (embedding kit: the vectors)
    python reference_client.py KIT_DIR --query "a question" "text" ...  (embedding kit: texts ranked)
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

ASSET_DIRS = ("assets", "Resources", "model")


def find_assets(kit_dir: Path) -> Path:
    """The folder holding metadata.json."""
    for name in ASSET_DIRS:
        if (kit_dir / name / "metadata.json").is_file():
            return kit_dir / name
    raise SystemExit(f"no metadata.json under {kit_dir}/{{{','.join(ASSET_DIRS)}}}")


class WordPiece:
    """BERT WordPiece: clean, split CJK, strip accents, lowercase, split punctuation, greedy pieces."""

    def __init__(self, vocab_lines: list[str], settings: dict[str, Any]) -> None:
        self.vocab: dict[str, int] = {}
        for token in vocab_lines:
            self.vocab.setdefault(token, len(self.vocab))
        self.settings = settings

    def tokenize(self, text: str) -> list[str]:
        """Word pieces of a text, before special tokens and truncation."""
        pieces: list[str] = []
        for word in _split_words(self._normalize(text)):
            pieces += self._word_pieces(word)
        return pieces

    def encode(self, text: str) -> dict[str, np.ndarray]:
        """input_ids, attention_mask and token_type_ids, each of shape (1, max_length), int64."""
        s = self.settings
        length = s["max_length"]
        ids = [self.vocab.get(t, s["unk_id"]) for t in self.tokenize(text)][: length - 2]
        ids = [s["cls_id"], *ids, s["sep_id"]]
        mask = [1] * len(ids) + [0] * (length - len(ids))
        ids += [s["pad_id"]] * (length - len(ids))
        return {
            "input_ids": np.asarray([ids], dtype=np.int64),
            "attention_mask": np.asarray([mask], dtype=np.int64),
            "token_type_ids": np.zeros((1, length), dtype=np.int64),
        }

    def _normalize(self, text: str) -> str:
        s = self.settings
        out = []
        for char in text:
            code = ord(char)
            if s["clean_text"] and (code in (0, 0xFFFD) or _is_control(char)):
                continue
            if s["clean_text"] and _is_whitespace(char):
                out.append(" ")
            elif s["handle_chinese_chars"] and _is_chinese(code):
                out.append(f" {char} ")
            else:
                out.append(char)
        normalized = "".join(out)
        if s["strip_accents"]:
            decomposed = unicodedata.normalize("NFD", normalized)
            normalized = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
        if s["lowercase"]:
            normalized = "".join(c.lower() for c in normalized)
        return normalized

    def _word_pieces(self, word: str) -> list[str]:
        s = self.settings
        if len(word) > s["max_input_chars_per_word"]:
            return [s["unk_token"]]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while start < end:
                piece = (s["continuing_subword_prefix"] if start else "") + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            else:
                return [s["unk_token"]]
            pieces.append(piece)
            start = end
        return pieces


WHITESPACE = {*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F}
WHITESPACE |= {0x205F, 0x3000}
"""Unicode White_Space, the set Rust's char::is_whitespace (and so Hugging Face's tokenizer) uses."""


def _is_whitespace(char: str) -> bool:
    return ord(char) in WHITESPACE


def _is_control(char: str) -> bool:
    return char not in "\t\n\r" and unicodedata.category(char).startswith("C")


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    ascii_punct = 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126
    return ascii_punct or unicodedata.category(char).startswith("P")


def _is_chinese(code: int) -> bool:
    ranges = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F)]
    ranges += [(0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]
    return any(low <= code <= high for low, high in ranges)


def _split_words(text: str) -> list[str]:
    words, current = [], ""
    for char in text:
        if _is_whitespace(char) or _is_punctuation(char):
            if current:
                words.append(current)
                current = ""
            if not _is_whitespace(char):
                words.append(char)
        else:
            current += char
    return [*words, current] if current else words


def load_image(path: Path, settings: dict[str, Any]) -> np.ndarray:
    """RGB, shorter side resized, centre-cropped, scaled and normalised: (1, 3, H, W) float32."""
    from PIL import Image

    height, width = settings["image_size"]
    resample = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}.get(
        settings["interpolation"], Image.Resampling.NEAREST
    )
    image = Image.open(path).convert("RGB")
    scale = settings["resize_shorter_to"] / min(image.size)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    image = image.resize(size, resample)
    left, top = (image.width - width) // 2, (image.height - height) // 2
    crop = np.asarray(image.crop((left, top, left + width, top + height)), dtype=np.float32)
    pixels: np.ndarray = crop * np.float32(float(settings["scale"]))
    pixels = (pixels - np.asarray(settings["mean"], np.float32)) / np.asarray(settings["std"], np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None], dtype=np.float32)


class Client:
    """The kit's model with its pre- and post-processing."""

    def __init__(self, kit_dir: Path) -> None:
        self.assets = find_assets(kit_dir)
        self.metadata = json.loads((self.assets / "metadata.json").read_text(encoding="utf-8"))
        self.embeds = self.metadata["postprocessing"].get("kind") == "embedding"
        """Whether the model returns a sentence embedding (feature-extraction) rather than label scores."""
        labels_file = self.metadata.get("labels_file")
        self.labels = (
            (self.assets / labels_file).read_text(encoding="utf-8").splitlines() if labels_file else []
        )
        preprocessing = self.metadata["preprocessing"]
        self.tokenizer = None
        if preprocessing["kind"] == "text":
            vocab = (self.assets / preprocessing["vocab_file"]).read_text(encoding="utf-8").split("\n")[:-1]
            self.tokenizer = WordPiece(vocab, preprocessing)
        self._run = self._open(self.assets / self.metadata["model"]["file"], self.metadata["model"]["format"])

    def _open(self, path: Path, artifact_format: str) -> Any:
        specs = {spec["name"]: spec for spec in self.metadata["inputs"]}
        output = self.metadata["postprocessing"]["output"]

        def cast(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {name: feeds[name].astype(spec["dtype"]) for name, spec in specs.items()}

        if artifact_format == "tflite":
            from ai_edge_litert.interpreter import Interpreter

            runner = Interpreter(model_path=str(path)).get_signature_runner()
            return lambda feeds: runner(**cast(feeds))[output]
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda feeds: session.run([output], cast(feeds))[0]

    def inputs_for_text(self, text: str) -> dict[str, np.ndarray]:
        """What the app feeds for one text."""
        assert self.tokenizer is not None, "this kit's model takes images"
        return self.tokenizer.encode(text)

    def logits(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The model's output row for one input."""
        return np.asarray(self._run(feeds), dtype=np.float32)[0]

    def classify(self, feeds: dict[str, np.ndarray]) -> dict[str, Any]:
        """Logits, softmax probabilities and the best label."""
        if self.embeds:
            raise ValueError(
                "this kit's model returns a sentence embedding, not label scores: use embed_text() or search()"
            )
        logits = self.logits(feeds)
        shifted = np.exp(logits - logits.max())
        probabilities = shifted / shifted.sum()
        return {
            "label": self.labels[int(probabilities.argmax())],
            "probabilities": {label: float(p) for label, p in zip(self.labels, probabilities, strict=True)},
            "logits": [float(value) for value in logits],
        }

    def embed(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The embedding for one input: postprocessing.dimension floats of length 1 (pooled in the model)."""
        if not self.embeds:
            raise ValueError(
                "this kit's model classifies (label scores), it gives no embedding: use classify()"
            )
        return self.logits(feeds)

    def embed_text(self, text: str) -> np.ndarray:
        """The embedding of one text."""
        return self.embed(self.inputs_for_text(text))

    def search(self, query: str, texts: list[str]) -> list[dict[str, Any]]:
        """`texts` ranked by cosine similarity to `query`, most similar first: [{text, score}]."""
        if not texts:
            raise ValueError("search needs at least one text to rank against the query")
        asked = self.embed_text(query)
        scored = [{"text": text, "score": cosine(asked, self.embed_text(text))} for text in texts]
        return sorted(scored, key=lambda row: -row["score"])


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (the kit's embeddings have length 1: their dot product)."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a64 @ b64 / max(float(np.linalg.norm(a64) * np.linalg.norm(b64)), 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kit", type=Path, help="The kit folder (app/android or app/ios).")
    parser.add_argument("texts", nargs="*", help="Texts to classify (or embed, or rank with --query).")
    parser.add_argument("--image", type=Path, action="append", default=[], help="Image to classify.")
    parser.add_argument("--query", help="Embedding kits: rank the texts by cosine similarity to this one.")
    args = parser.parse_intermixed_args()
    client = Client(args.kit)
    if args.image and client.tokenizer is not None:
        parser.error("--image: this kit's model takes text; pass texts instead")
    if args.query is not None and not client.embeds:
        parser.error(
            "--query ranks texts by similarity, which needs an embedding (feature-extraction) kit; "
            "this kit classifies: pass the texts alone"
        )
    if client.embeds:
        if args.query is not None:
            if not args.texts:
                parser.error("--query needs texts to rank: reference_client.py KIT --query Q TEXT [TEXT ...]")
            for rank, row in enumerate(client.search(args.query, args.texts), start=1):
                print(json.dumps({"query": args.query, "rank": rank, **row}))
            return
        for text in args.texts:
            print(json.dumps({"text": text, "embedding": [float(v) for v in client.embed_text(text)]}))
        return
    for text in args.texts:
        print(json.dumps({"text": text, **client.classify(client.inputs_for_text(text))}))
    for image in args.image:
        feeds = {client.metadata["inputs"][0]["name"]: load_image(image, client.metadata["preprocessing"])}
        print(json.dumps({"image": str(image), **client.classify(feeds)}))


if __name__ == "__main__":
    main()
