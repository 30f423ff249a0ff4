"""What a kit does with the model's output, per task: label scores (classifiers), a unit vector (embeddings),
a tag per token (named entities) or the answer span of a context (extractive question answering).

One small declarative class per kind of output; the kit writer, the variant choice, the READMEs and the
sample code read everything that differs from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeship.errors import BundleError
from edgeship.manifest import Manifest, TextPreprocessing


@dataclass(frozen=True)
class KitHead:
    """One kind of model output and what the kit's code does with it."""

    kind: str
    """postprocessing.kind in metadata.json; the JavaScript and Python clients pick their class by it."""
    sample: str
    """The sample class's name stem: <Runtime><sample>.kt / .swift, Edgeship<sample>.js."""
    labels_file: bool
    """Whether the kit writes labels.txt."""
    min_agreement: float
    """Without measured accuracy, a quantized variant qualifies when its parity agreement is at least this."""
    agreement_words: str
    """What parity.argmax_agreement counts, for the variant choice's sentence."""
    min_cosine: float | None = None
    """And, for embeddings, when its smallest cosine to the reference is at least this."""

    def postprocessing(self, manifest: Manifest, output: dict[str, Any]) -> dict[str, Any]:
        """metadata.json's postprocessing section."""
        return {"output": output["name"], "activation": "softmax", "top_k": len(manifest.source.labels)}

    def preprocessing(self, manifest: Manifest) -> dict[str, Any]:
        """What metadata.json's preprocessing section holds beyond the tokenizer's (or image's) settings."""
        return {}

    def first_step(self, tokenizer: str, preprocessing: dict[str, Any]) -> str:
        """Step 1 of a text kit's README: how `tokenizer` (the kit's, in words) makes the model's inputs."""
        return (
            f"1. Tokenize with {tokenizer}: `[CLS]` + word pieces + `[SEP]`, truncated and padded to "
            f"{preprocessing['max_length']} tokens; attention mask 1 on real tokens, token type ids 0."
        )

    def steps(self, metadata: dict[str, Any]) -> str:
        """Steps 2 and 3 of a README (after preprocessing): run the model, read its output."""
        labels = ", ".join(metadata["labels"])
        return (
            f"2. Run the model; output `{metadata['postprocessing']['output']}` holds one logit per label.\n"
            f"3. Softmax the logits; label *i* is line *i* of labels.txt ({labels})."
        )

    def check_output(self, output: dict[str, Any], variant_id: str) -> None:
        """Raise BundleError when the artifact's output is not what this head reads."""


@dataclass(frozen=True)
class EmbeddingHead(KitHead):
    """A sentence embedding, pooled and L2-normalised inside the graph: cosine similarity = dot product."""

    def postprocessing(self, manifest: Manifest, output: dict[str, Any]) -> dict[str, Any]:
        """The output's name and size, its pooling, and that it is a unit vector compared by dot product."""
        return {
            "kind": self.kind,
            "output": output["name"],
            "dimension": output["shape"][-1],
            "pooling": manifest.source.pooling,
            "normalized": True,
            "similarity": "dot product (= cosine: the vectors have length 1)",
        }

    def steps(self, metadata: dict[str, Any]) -> str:
        """Run, then compare vectors by dot product; no labels."""
        post = metadata["postprocessing"]
        return (
            f"2. Run the model; output `{post['output']}` is the text's embedding: {post['dimension']} floats, "
            f"{post['pooling']}-pooled over the tokens and scaled to length 1 inside the model (nothing to redo).\n"
            "3. Similarity of two texts = dot product of their vectors (= cosine similarity, in [-1, 1]); "
            "semantic search ranks texts by it. There are no labels (no labels.txt)."
        )

    def check_output(self, output: dict[str, Any], variant_id: str) -> None:
        """One vector per text: shape [batch, dimension] with a known dimension."""
        shape = output["shape"]
        if len(shape) != 2 or not isinstance(shape[-1], int):
            raise BundleError(
                f"variant '{variant_id}' outputs '{output['name']}' of shape {shape}, not one embedding "
                "[batch, dimension] per text, which the feature-extraction kit ships",
                hint="re-export with `edgeship export MODEL --task feature-extraction` (it pools and "
                "normalises inside the graph)",
            )


@dataclass(frozen=True)
class TaggingHead(KitHead):
    """An IOB2 tag per token: each word takes its first piece's tag, and B-/I- runs become entity spans."""

    def postprocessing(self, manifest: Manifest, output: dict[str, Any]) -> dict[str, Any]:
        """The output, the tagging scheme and how words and entities are read from it."""
        labels = manifest.source.labels
        return {
            "kind": self.kind,
            "output": output["name"],
            "activation": "softmax",
            "scheme": "IOB2",
            "word_tag": "first piece",
            "entity_types": sorted({tag[2:] for tag in labels if tag[:2] in ("B-", "I-")}),
        }

    def steps(self, metadata: dict[str, Any]) -> str:
        """Run, take each word's first piece's tag, join B-/I- runs into entities with character offsets."""
        post = metadata["postprocessing"]
        tags = ", ".join(metadata["labels"])
        return (
            f"2. Run the model; output `{post['output']}` holds one logit per tag for every token "
            f"([1, {metadata['preprocessing']['max_length']}, {len(metadata['labels'])}]); tag *i* is line "
            f"*i* of labels.txt ({tags}).\n"
            "3. Softmax each token's logits and take its best tag; a word (the text split at whitespace and "
            "punctuation, as the tokenizer splits it) takes the tag of its first piece.\n"
            "4. Entities (IOB2, as CoNLL and seqeval read it): `B-X` starts an entity of type X, `I-X` "
            "continues one of type X, and an `I-X` after `O` or after another type starts a new one. Each "
            "entity is `{type, text, start, end, score}`: `start`/`end` are character offsets into the "
            "original text (`text` = that slice; UTF-16 units in Kotlin, Swift and JavaScript, code points "
            "in Python), `score` the mean probability of its words' tags."
        )

    def check_output(self, output: dict[str, Any], variant_id: str) -> None:
        """One row of tag logits per token: shape [batch, sequence, tags] with a known tag count."""
        shape = output["shape"]
        if len(shape) != 3 or not isinstance(shape[-1], int):
            raise BundleError(
                f"variant '{variant_id}' outputs '{output['name']}' of shape {shape}, not tag logits "
                "[batch, sequence, tags] per token, which the token-classification kit reads",
                hint="re-export with `edgeship export MODEL --task token-classification`",
            )


@dataclass(frozen=True)
class SpanHead(KitHead):
    """Extractive QA: a start and an end logit per token; the answer is the best span of the context over
    all of its windows, cut from the context by the pieces' character offsets (edgeship.tasks.spans)."""

    def preprocessing(self, manifest: Manifest) -> dict[str, Any]:
        """The question/context pair: windows sharing doc_stride tokens, questions cut at half the sequence."""
        text = manifest.preprocessing
        assert isinstance(text, TextPreprocessing)
        if text.doc_stride is None:
            raise BundleError(
                "the bundle's manifest has no doc_stride: it was not exported for question-answering",
                hint="re-export with `edgeship export MODEL --task question-answering`",
            )
        return {
            "pair": "question, context",
            "doc_stride": text.doc_stride,
            "max_question_tokens": text.max_length // 2,
        }

    def postprocessing(self, manifest: Manifest, output: dict[str, Any]) -> dict[str, Any]:
        """The output, its channels and the span rules."""
        text = manifest.preprocessing
        assert isinstance(text, TextPreprocessing)
        return {
            "kind": self.kind,
            "output": output["name"],
            "start_channel": 0,
            "end_channel": 1,
            "max_answer_length": text.max_answer_length,
            "score": "start logit + end logit",
        }

    def first_step(self, tokenizer: str, preprocessing: dict[str, Any]) -> str:
        """The pair encoding and its windows."""
        length, stride = preprocessing["max_length"], preprocessing["doc_stride"]
        return (
            f"1. Tokenize the question and the context with {tokenizer}, keeping each context piece's "
            f"character span in the context. A question of more than {preprocessing['max_question_tokens']} "
            "pieces is cut at the end of the last piece that fits, and that text tokenized again. Each "
            f"window is `[CLS]` + question + `[SEP]` + context pieces + `[SEP]`, padded to {length} tokens "
            "(token type ids 0 up to the first `[SEP]`, 1 after it; attention mask 1 on real tokens). A "
            f"window holds n = {length} - 3 - (question pieces) context pieces; a longer context is read in "
            f"windows starting at pieces 0, n - {stride}, 2(n - {stride}), ... (consecutive windows share "
            f"{stride} pieces, as Hugging Face's tokenizer makes them with `stride`), the last one ending at "
            "the context's end."
        )

    def steps(self, metadata: dict[str, Any]) -> str:
        """Run each window, pick the best span over all windows, cut the answer from the context."""
        post = metadata["postprocessing"]
        length = metadata["preprocessing"]["max_length"]
        return (
            f"2. Run the model on each window; output `{post['output']}` [1, {length}, 2] holds a start "
            f"logit (channel {post['start_channel']}) and an end logit (channel {post['end_channel']}) per "
            "token.\n"
            "3. The answer is the span of context pieces (start <= end, at most "
            f"{post['max_answer_length']} pieces) with the highest start logit + end logit over all windows "
            "(the first such span wins a tie). It is `{text, start, end, score}`: `start`/`end` are the "
            "character offsets of its first piece's start and last piece's end in the context (UTF-16 units in "
            "Kotlin, Swift and JavaScript, code points in Python), `text` that slice of the context, `score` "
            "the logit sum (no score and an empty answer when the context has no pieces)."
        )

    def check_output(self, output: dict[str, Any], variant_id: str) -> None:
        """A start and an end logit per token: shape [batch, sequence, 2]."""
        shape = output["shape"]
        if len(shape) != 3 or shape[-1] != 2:
            raise BundleError(
                f"variant '{variant_id}' outputs '{output['name']}' of shape {shape}, not span logits "
                "[batch, sequence, 2] (start, end) per token, which the question-answering kit reads",
                hint="re-export with `edgeship export MODEL --task question-answering`",
            )


CLASSIFICATION = KitHead(
    kind="classification",
    sample="Classifier",
    labels_file=True,
    min_agreement=0.99,
    agreement_words="agreeing with it on >= 99% of inputs",
)
EMBEDDING = EmbeddingHead(
    kind="embedding",
    sample="Embedder",
    labels_file=False,
    min_agreement=0.95,
    agreement_words="sharing >= 95% of top-10 neighbours with PyTorch's and every cosine >= 0.95",
    min_cosine=0.95,
)
TAGGING = TaggingHead(
    kind="entities",
    sample="Tagger",
    labels_file=True,
    min_agreement=0.99,
    agreement_words="tagging >= 99% of tokens as it does",
)

ANSWERING = SpanHead(
    kind="answer",
    sample="Answerer",
    labels_file=False,
    min_agreement=0.99,
    agreement_words="giving >= 99% of inputs the same start and end token",
)

HEADS: dict[str, KitHead] = {
    "text-classification": CLASSIFICATION,
    "image-classification": CLASSIFICATION,
    "feature-extraction": EMBEDDING,
    "token-classification": TAGGING,
    "question-answering": ANSWERING,
}
"""Task id -> what its kit does with the output."""


def kit_head(manifest: Manifest) -> KitHead:
    """The head for the bundle's task; a task no kit supports is a one-line error."""
    task = manifest.source.task
    if task not in HEADS:
        raise BundleError(
            f"edgeship app has no kit for {task} bundles (it writes kits for {', '.join(sorted(HEADS))})",
            hint="use the bundle's artifacts directly, or export the model for one of those tasks",
        )
    return HEADS[task]
