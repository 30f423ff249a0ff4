"""What a kit does with the model's output, per task: label scores (classifiers), a unit vector (embeddings)
or a tag per token (named entities).

One small declarative class per kind of output; the kit writer, the variant choice, the READMEs and the
sample code read everything that differs from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeship.errors import BundleError
from edgeship.manifest import Manifest


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

HEADS: dict[str, KitHead] = {
    "text-classification": CLASSIFICATION,
    "image-classification": CLASSIFICATION,
    "feature-extraction": EMBEDDING,
    "token-classification": TAGGING,
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
