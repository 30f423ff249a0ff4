"""Tiny random-weight models of each family, loaded the way a user's model is (save, then load_model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeship.conformance.trained import fine_tune, synthetic_images
from edgeship.export.archs import arch_config
from edgeship.sources.loading import LoadedModel, load_model
from edgeship.tasks.base import get_task, sample_inputs

VOCAB_SIZE = 1024
NUM_LABELS = 10
TEXT_LENGTH = 32
PARITY_ROWS = 16
LONG_PARITY_ROWS = 2
PARITY_SEED = 99
"""Parity images are drawn apart from the fine-tune's (seed 0)."""
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAIR_TEMPLATES: dict[str, str] = {
    "bert": "[CLS] $A [SEP] $B:1 [SEP]:1",
    "roberta": "[CLS] $A [SEP] [SEP] $B [SEP]",
}
"""How a word tokenizer lays out a text pair (a question and its context): BERT's, or RoBERTa's
<s> A </s></s> B </s> with [CLS] and [SEP] for <s> and </s> (Longformer's QA head counts the three)."""


@dataclass
class Subject:
    """One family's model with everything the cells need: module, parity inputs, export facts."""

    module: Any
    """torch module taking `input_names` positionally; returns logits, or a tuple (logits, *state)."""
    input_names: list[str]
    output_names: list[str]
    inputs: dict[str, np.ndarray]
    """Parity rows: every row has the same shape, so static (batch 1) artifacts take them too."""
    tolerance: float
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    """ONNX dynamic axes where the cells export the module themselves (no `loaded`)."""
    loaded: LoadedModel | None = None
    """Set for classifiers, which go through edgeship's own exporters exactly as `edgeship export` does."""
    trace_inputs: dict[str, np.ndarray] | None = None
    """Inputs to trace the ONNX graph with, shaped unlike the parity rows to prove the axes dynamic."""
    attention_length: int | None = None
    """Long-input families: per-head scores with two axes this long mean attention fell back to full."""
    task: str = "text-classification"
    """What the outputs are, hence how they are judged: logits, or (feature-extraction) embeddings."""
    reference: list[np.ndarray] = field(init=False)
    """PyTorch fp32 outputs for every parity row, as float64."""

    @property
    def batch_size(self) -> int:
        """Rows per run: one at a time for long inputs, four otherwise."""
        return 1 if self.attention_length else 4

    def __post_init__(self) -> None:
        # Taken at once, before any export: tracing can change a model (BigBird switches to full
        # attention when traced on short inputs).
        self.reference = self._reference_outputs()

    def _reference_outputs(self) -> list[np.ndarray]:
        """PyTorch fp32 outputs for every parity row, as float64."""
        import torch

        rows = len(next(iter(self.inputs.values())))
        chunks: list[list[np.ndarray]] = []
        with torch.inference_mode():
            for start in range(0, rows, self.batch_size):
                tensors = (
                    torch.from_numpy(self.inputs[name][start : start + self.batch_size])
                    for name in self.input_names
                )
                output = self.module(*tensors)
                chunks.append(
                    [tensor.numpy() for tensor in (output if isinstance(output, tuple) else (output,))]
                )
        return [np.concatenate(parts).astype(np.float64) for parts in zip(*chunks, strict=True)]

    @property
    def scored_tokens(self) -> np.ndarray | None:
        """Per-token tasks (NER): the real tokens of each parity row, where tags are judged; else None."""
        if not get_task(self.task).per_token:
            return None
        return self.inputs["attention_mask"].astype(bool)

    @property
    def sequence_length(self) -> int:
        """The text length of the parity rows (the TFLite export's static length)."""
        return int(next(iter(self.inputs.values())).shape[1])


def word_tokenizer(vocab_size: int, pairs: str = "bert") -> Any:
    """A word-level fast tokenizer with BERT's special tokens and inputs, adding them as BERT does (pairs:
    as PAIR_TEMPLATES[pairs] says): enough to save and reload a model."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = SPECIAL_TOKENS + [f"w{i}" for i in range(len(SPECIAL_TOKENS), vocab_size)]
    backend = Tokenizer(models.WordLevel({word: i for i, word in enumerate(words)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair=PAIR_TEMPLATES[pairs],
        special_tokens=[(token, SPECIAL_TOKENS.index(token)) for token in ("[CLS]", "[SEP]")],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def hf_classifier(
    config_class: str,
    model_class: str,
    workdir: Path,
    *,
    text: bool = True,
    max_length: int = TEXT_LENGTH,
    task: str | None = None,
    pairs: str = "bert",
    **config: Any,
) -> Subject:
    """Save a random-init transformers model (and tokenizer, laying out text pairs as `pairs` names) to
    disk and load it with load_model, as a classifier or (`task`) for another task."""
    import torch
    import transformers

    torch.manual_seed(0)
    options = {"num_labels": NUM_LABELS, **config}
    if text:
        options.setdefault("vocab_size", VOCAB_SIZE)
        options.setdefault("pad_token_id", 0)
    model_config = getattr(transformers, config_class)(**options)
    directory = workdir / "model"
    getattr(transformers, model_class)(model_config).save_pretrained(directory)
    if text:
        word_tokenizer(model_config.vocab_size, pairs).save_pretrained(directory)
    return loaded_subject(load_model(str(directory), task=task), max_length=max_length)


def timm_classifier(name: str, workdir: Path) -> Subject:
    """Random-init timm weights saved as safetensors and loaded as `edgeship export timm:NAME --checkpoint`."""
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    checkpoint = workdir / f"{name}.safetensors"
    save_file(timm.create_model(name, pretrained=False, num_classes=NUM_LABELS).state_dict(), str(checkpoint))
    return loaded_subject(load_model(f"timm:{name}", checkpoint=checkpoint), max_length=TEXT_LENGTH)


def loaded_subject(loaded: LoadedModel, *, max_length: int) -> Subject:
    """A subject for a classifier as edgeship loads it; long inputs get fewer parity rows.

    Image classifiers are first fine-tuned briefly on synthetic images and judged on held-out ones
    (see `trained`): on random weights their quantized cells would measure near-ties.
    """
    long_input = max_length > 512
    rows = LONG_PARITY_ROWS if long_input else PARITY_ROWS
    if loaded.modality == "image":
        assert loaded.image_preprocessing is not None
        fine_tune(loaded, NUM_LABELS)
        images, _ = synthetic_images(NUM_LABELS, rows, loaded.image_preprocessing.size, seed=PARITY_SEED)
        inputs = {"pixel_values": images}
    else:
        inputs = sample_inputs(loaded, samples=rows, max_length=max_length)
    return Subject(
        module=loaded.logits_module(),
        input_names=list(loaded.input_names),
        output_names=[get_task(loaded.task).output_name],
        inputs=inputs,
        tolerance=arch_config(loaded.model_type).tolerance,
        loaded=loaded,
        attention_length=max_length if long_input else None,
        task=loaded.task,
    )
