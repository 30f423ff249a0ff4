"""Reference client for this kit: the app's steps in Python, to check an app's numbers against.

Reads metadata.json, preprocesses (WordPiece tokenizer or image normalisation, as the Kotlin/Swift code
does), runs the model with onnxruntime (.ort) or ai-edge-litert (.tflite), and applies softmax and labels
(a classifier), returns the unit-length embedding (a feature-extraction kit: cosine = dot product),
tags each word and joins the tags into entities with character offsets (a token-classification kit), or
reads a context in windows and cuts the best answer span out of it (a question-answering kit).
Needs only numpy and the one runtime (plus Pillow for images); nothing of edgeship.

    python reference_client.py KIT_DIR "a text to classify" ...
    python reference_client.py KIT_DIR --image photo.jpg
    python reference_client.py KIT_DIR "a text to embed" ...            (embedding kit: the vectors)
    python reference_client.py KIT_DIR --query "a question" "text" ...  (embedding kit: texts ranked)
    python reference_client.py KIT_DIR "Ada Lovelace met Babbage in London." (tagging kit: entities)
    python reference_client.py KIT_DIR --question "Who met Babbage?" "Ada met Babbage." (QA kit: answer)
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
        return self._feeds(self.tokenize(text))

    def words(self, text: str) -> list[tuple[int, int, list[str]]]:
        """The text's words as the pre-tokenizer splits them (at whitespace and punctuation), each as
        (start, end, pieces): start/end are offsets into `text` itself, not into the normalized text."""
        return [
            (origins[0][0], origins[-1][1], self._word_pieces(word)) for word, origins in self._split(text)
        ]

    def pieces(self, text: str) -> list[tuple[str, int, int]]:
        """The text's word pieces, each with its span [start, end) in `text` itself (the offsets Hugging
        Face's tokenizer gives): from its first character's original to its last character's original."""
        return [
            (piece, origins[first][0], origins[last - 1][1])
            for word, origins in self._split(text)
            for piece, first, last in self._piece_spans(word)
        ]

    def encode_question(self, question: str, context: str) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
        """The windows of a question about a context (what the model reads): per window, its inputs and
        each token's [start, end) in `context` ((-1, -1) for question, special and padding tokens).

        A question of more than max_question_tokens pieces is cut at the end of the last one that fits and
        tokenized again; each window is [CLS] question [SEP] context pieces [SEP] (token types 0, then 1),
        and consecutive windows share doc_stride context pieces, as Hugging Face's tokenizer makes them."""
        s = self.settings
        length, most, stride = s["max_length"], s["max_question_tokens"], s["doc_stride"]
        asked = self.pieces(question)
        if len(asked) > most:
            asked = self.pieces(question[: asked[most - 1][2]])
        question_ids = self._ids([piece for piece, _, _ in asked])
        pieces = self.pieces(context)
        room = length - 3 - len(question_ids)
        if len(pieces) > room and room <= stride:
            raise ValueError(
                f"the question leaves {room} context tokens per window, not more than doc_stride ({stride})"
            )
        windows, start = [], 0
        while True:
            stop = min(start + room, len(pieces))
            window = pieces[start:stop]
            ids = [
                s["cls_id"],
                *question_ids,
                s["sep_id"],
                *self._ids([p for p, _, _ in window]),
                s["sep_id"],
            ]
            types = [0] * (len(question_ids) + 2) + [1] * (len(window) + 1)
            offsets = np.full((length, 2), -1, dtype=np.int64)
            first = len(question_ids) + 2
            for position, (_, begin, end) in enumerate(window, start=first):
                offsets[position] = begin, end
            padding = length - len(ids)
            feeds = {
                "input_ids": np.asarray([ids + [s["pad_id"]] * padding], dtype=np.int64),
                "attention_mask": np.asarray([[1] * len(ids) + [0] * padding], dtype=np.int64),
                "token_type_ids": np.asarray([types + [0] * padding], dtype=np.int64),
            }
            windows.append((feeds, offsets))
            if stop == len(pieces):
                return windows
            start += room - stride

    def _split(self, text: str) -> list[tuple[str, list[tuple[int, int]]]]:
        """The text's words as the pre-tokenizer splits them, normalized, each with the span in `text` of the
        character each of its normalized characters came from (each character is normalized on its own)."""
        words: list[tuple[str, list[tuple[int, int]]]] = []
        origins: list[tuple[int, int]]
        current, origins = "", []  # origins: the span in `text` of each of current's characters
        for index, char in enumerate(text):
            for normalized in self._normalize(char):
                if _is_whitespace(normalized) or _is_punctuation(normalized):
                    if current:
                        words.append((current, origins))
                        current, origins = "", []
                    if not _is_whitespace(normalized):
                        words.append((normalized, [(index, index + 1)]))
                    continue
                current += normalized
                origins.append((index, index + 1))
        if current:
            words.append((current, origins))
        return words

    def encode_words(
        self, words: list[tuple[int, int, list[str]]]
    ) -> tuple[dict[str, np.ndarray], list[int]]:
        """The inputs for the words' pieces (as encode(text) gives them) and the position of each word's
        first piece in input_ids; words cut off by max_length are left out of the positions."""
        pieces: list[str] = []
        first_tokens = []
        for _, _, word_pieces in words:
            if len(pieces) < self.settings["max_length"] - 2:
                first_tokens.append(1 + len(pieces))  # after [CLS]
            pieces += word_pieces
        return self._feeds(pieces), first_tokens

    def _ids(self, pieces: list[str]) -> list[int]:
        return [self.vocab.get(piece, self.settings["unk_id"]) for piece in pieces]

    def _feeds(self, pieces: list[str]) -> dict[str, np.ndarray]:
        s = self.settings
        length = s["max_length"]
        ids = self._ids(pieces)[: length - 2]
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
        return [piece for piece, _, _ in self._piece_spans(word)]

    def _piece_spans(self, word: str) -> list[tuple[str, int, int]]:
        """Greedy longest-match pieces, each with its [first, last) characters in `word`; a word with no full
        split (or too long) is one [UNK] spanning it."""
        s = self.settings
        unknown = [(s["unk_token"], 0, len(word))]
        if len(word) > s["max_input_chars_per_word"]:
            return unknown
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while start < end:
                piece = (s["continuing_subword_prefix"] if start else "") + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            else:
                return unknown
            pieces.append((piece, start, end))
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
        self.tags = self.metadata["postprocessing"].get("kind") == "entities"
        """Whether the model tags each token (token-classification: named entities)."""
        self.answers = self.metadata["postprocessing"].get("kind") == "answer"
        """Whether the model finds the answer to a question in a context (extractive question answering)."""
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
        if self.tags:
            raise ValueError("this kit's model tags each word, it gives no label per text: use tag(text)")
        if self.answers:
            raise ValueError(
                "this kit's model answers a question about a context, it gives no label per text: "
                "use answer(question, context)"
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
            does, use = ("tags words", "tag") if self.tags else ("classifies (label scores)", "classify")
            if self.answers:
                does, use = "answers questions", "answer"
            raise ValueError(f"this kit's model {does}, it gives no embedding: use {use}()")
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

    def tag_words(self, text: str) -> list[dict[str, Any]]:
        """Every word of `text` (not cut off by max_length) with its tag: its first piece's best tag, and
        that tag's softmax probability: [{text, start, end, tag, score}]."""
        if not self.tags:
            raise ValueError(
                "this kit's model gives no tag per token: tag() needs a token-classification kit"
            )
        assert self.tokenizer is not None
        words = self.tokenizer.words(text)
        feeds, first_tokens = self.tokenizer.encode_words(words)
        spans = [(start, end) for start, end, _ in words]
        return tagged_words(text, spans, first_tokens, softmax(self.logits(feeds)), self.labels)

    def tag(self, text: str) -> list[dict[str, Any]]:
        """The named entities in `text`: [{type, text, start, end, score}], start/end offsets into `text`."""
        return entities(text, self.tag_words(text))

    def answer(self, question: str, context: str) -> dict[str, Any]:
        """The answer to `question` in `context`: {text, start, end, score}, start/end offsets into `context`
        (text = context[start:end]), score its start + end logit (None when the context has no tokens)."""
        if not self.answers:
            raise ValueError(
                "this kit's model reads no answer spans: answer() needs a question-answering kit"
            )
        assert self.tokenizer is not None
        windows = self.tokenizer.encode_question(question, context)
        logits = [self.logits(feeds) for feeds, _ in windows]
        start, end, score = best_span(
            logits, [offsets for _, offsets in windows], self.metadata["postprocessing"]["max_answer_length"]
        )
        return {"text": context[start:end], "start": start, "end": end, "score": score}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    result: np.ndarray = shifted / shifted.sum(axis=-1, keepdims=True)
    return result


def tagged_words(
    text: str,
    spans: list[tuple[int, int]],
    first_tokens: list[int],
    probabilities: np.ndarray,
    labels: list[str],
) -> list[dict[str, Any]]:
    """Each word (its span in `text`) tagged at its first piece (`first_tokens`: positions in the model's
    sequence; words beyond them were cut off): [{text, start, end, tag, score}]."""
    words = []
    for (start, end), token in zip(spans, first_tokens, strict=False):
        best = int(probabilities[token].argmax())
        tag = labels[best]
        score = float(probabilities[token, best])
        words.append({"text": text[start:end], "start": start, "end": end, "tag": tag, "score": score})
    return words


def entities(text: str, words: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join tagged words into entities, IOB2 as CoNLL and seqeval read it: B-X starts an entity of type X,
    I-X continues one of type X, and I-X after O or after another type starts a new one (as does a tag
    without a B-/I- prefix). Each: {type, text, start, end, score (the mean of its words' tag scores)}."""
    found: list[dict[str, Any]] = []
    scores: list[list[float]] = []
    open_type = None
    for word in words:
        tag = word["tag"]
        if tag == "O":
            open_type = None
            continue
        kind = tag[2:] if tag[:2] in ("B-", "I-") else tag
        if tag.startswith("I-") and kind == open_type:
            found[-1]["end"] = word["end"]
            scores[-1].append(word["score"])
        else:
            found.append({"type": kind, "start": word["start"], "end": word["end"]})
            scores.append([word["score"]])
        open_type = kind
    for entity, entity_scores in zip(found, scores, strict=True):
        entity["text"] = text[entity["start"] : entity["end"]]
        entity["score"] = float(np.mean(entity_scores))
    return [{key: entity[key] for key in ("type", "text", "start", "end", "score")} for entity in found]


def best_span(
    logits: list[np.ndarray], offsets: list[np.ndarray], max_answer_length: int
) -> tuple[int, int, float | None]:
    """The answer's [start, end) in the context and its score: over all windows (logits [tokens, 2] and
    offsets [tokens, 2] each), the span of context tokens (start <= end, at most max_answer_length tokens)
    with the highest start + end logit; the first such span wins a tie. (0, 0, None): no context tokens."""
    best: tuple[int, int, float | None] = (0, 0, None)
    for window_logits, window_offsets in zip(logits, offsets, strict=True):
        context = window_offsets[:, 0] >= 0
        if not context.any():
            continue
        first, last = np.indices((len(context), len(context)))
        allowed = (last >= first) & (last - first < max_answer_length) & context[:, None] & context[None, :]
        scores = window_logits[:, 0, None].astype(np.float64) + window_logits[None, :, 1]
        scores = np.where(allowed, scores, -np.inf)
        start, end = np.unravel_index(int(np.argmax(scores)), scores.shape)
        if best[2] is None or scores[start, end] > best[2]:
            best = (int(window_offsets[start, 0]), int(window_offsets[end, 1]), float(scores[start, end]))
    return best


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (the kit's embeddings have length 1: their dot product)."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a64 @ b64 / max(float(np.linalg.norm(a64) * np.linalg.norm(b64)), 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kit", type=Path, help="The kit folder (app/android or app/ios).")
    parser.add_argument(
        "texts", nargs="*", help="Texts to classify (or embed, rank with --query, or tag: entities)."
    )
    parser.add_argument("--image", type=Path, action="append", default=[], help="Image to classify.")
    parser.add_argument("--query", help="Embedding kits: rank the texts by cosine similarity to this one.")
    parser.add_argument("--question", help="Question-answering kits: the answer in each text (its context).")
    args = parser.parse_intermixed_args()
    client = Client(args.kit)
    if (args.question is not None) != client.answers:
        parser.error(
            "--question: this kit's model does not answer questions; pass the texts alone"
            if not client.answers
            else "this kit answers questions about a context: reference_client.py KIT --question Q CONTEXT ..."
        )
    if client.answers:
        for context in args.texts:
            print(
                json.dumps(
                    {"question": args.question, "context": context, **client.answer(args.question, context)}
                )
            )
        return
    if args.image and client.tokenizer is not None:
        parser.error("--image: this kit's model takes text; pass texts instead")
    if args.query is not None and not client.embeds:
        parser.error(
            "--query ranks texts by similarity, which needs an embedding (feature-extraction) kit; "
            "this kit classifies: pass the texts alone"
        )
    if client.tags:
        for text in args.texts:
            print(json.dumps({"text": text, "entities": client.tag(text)}))
        return
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
