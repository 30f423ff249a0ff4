"""Families edgeship's loaders do not cover: causal LMs (with and without a KV cache) and audio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeship.conformance.subjects import (
    NUM_LABELS,
    PARITY_ROWS,
    SPECIAL_TOKENS,
    TEXT_LENGTH,
    VOCAB_SIZE,
    Subject,
    word_tokenizer,
)
from edgeship.sources.loading import LoadedModel
from edgeship.tasks.base import sample_inputs

PAST_LENGTH = 15
TRACE_PAST_LENGTH = 7
AUDIO_SAMPLES = 4000
TRACE_AUDIO_SAMPLES = 3200


def _random_model(config_class: str, model_class: str, **config: Any) -> Any:
    """A random-init model with eager attention; `experts_implementation` picks an MoE's expert kernel."""
    import torch
    import transformers

    torch.manual_seed(0)
    loading = {"attn_implementation": "eager"}
    if "experts_implementation" in config:
        loading["experts_implementation"] = config.pop("experts_implementation")
    model_config = getattr(transformers, config_class)(vocab_size=VOCAB_SIZE, use_cache=False, **config)
    return getattr(transformers, model_class)._from_config(model_config, **loading).eval()


def causal_lm(
    config_class: str, model_class: str, workdir: Path, *, input_names: tuple[str, ...], **config: Any
) -> Subject:
    """A causal LM on the text path: token rows in, next-token logits for every position out.

    It rides edgeship's text exporters unchanged (they only need token inputs and a `.logits` output).
    """
    model = _random_model(config_class, model_class, **config)
    loaded = LoadedModel(
        model=model,
        framework="transformers",
        architecture=type(model).__name__,
        model_type=model.config.model_type,
        task="text-classification",
        labels=[],
        source=f"random {type(model).__name__}",
        config=model.config,
        tokenizer=word_tokenizer(VOCAB_SIZE),
        input_names=list(input_names),
    )
    return Subject(
        module=loaded.logits_module(),
        input_names=list(input_names),
        output_names=["logits"],
        inputs=sample_inputs(loaded, samples=PARITY_ROWS // 2, max_length=TEXT_LENGTH),
        dynamic_axes={name: {0: "batch", 1: "sequence"} for name in input_names},
        tolerance=1e-4,
        loaded=loaded,
    )


def decode_step(config_class: str, model_class: str, workdir: Path, **config: Any) -> Subject:
    """One KV-cache decoding step: new token + past keys/values in, logits + present keys/values out."""
    import torch
    from transformers import DynamicCache

    model = _random_model(config_class, model_class, **config)
    layers = model.config.num_hidden_layers
    past_names = [f"past_{kind}_{layer}" for layer in range(layers) for kind in ("key", "value")]

    class DecodeStep(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, *past: Any) -> tuple[Any, ...]:
            cache = DynamicCache(config=self.model.config)
            for layer in range(layers):
                cache.update(past[2 * layer], past[2 * layer + 1], layer)
            output = self.model(
                input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache, use_cache=True
            )
            present = [
                tensor for layer in output.past_key_values.layers for tensor in (layer.keys, layer.values)
            ]
            return (output.logits, *present)

    present_names = [name.replace("past_", "present_") for name in past_names]
    dynamic_axes = {
        "input_ids": {0: "batch"},
        "attention_mask": {0: "batch", 1: "total_sequence"},
        "logits": {0: "batch"},
        **{name: {0: "batch", 2: "past_sequence"} for name in past_names},
        **{name: {0: "batch", 2: "total_sequence"} for name in present_names},
    }
    return Subject(
        module=DecodeStep().eval(),
        input_names=["input_ids", "attention_mask", *past_names],
        output_names=["logits", *present_names],
        inputs=_decode_inputs(model.config, past_names, PARITY_ROWS // 2, PAST_LENGTH, seed=0),
        trace_inputs=_decode_inputs(model.config, past_names, 2, TRACE_PAST_LENGTH, seed=1),
        dynamic_axes=dynamic_axes,
        tolerance=1e-4,
    )


def _decode_inputs(
    config: Any, past_names: list[str], rows: int, past_length: int, seed: int
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    heads = config.num_key_value_heads
    head_dim = config.hidden_size // config.num_attention_heads
    inputs = {
        "input_ids": rng.integers(low=len(SPECIAL_TOKENS), high=VOCAB_SIZE, size=(rows, 1)),
        "attention_mask": np.ones((rows, past_length + 1), dtype=np.int64),
    }
    for name in past_names:
        inputs[name] = rng.standard_normal((rows, heads, past_length, head_dim)).astype(np.float32)
    return inputs


def audio_classifier(workdir: Path, **config: Any) -> Subject:
    """A Wav2Vec2 audio classifier: raw 16 kHz samples in, class logits out."""
    import torch
    import transformers

    torch.manual_seed(0)
    model = transformers.Wav2Vec2ForSequenceClassification._from_config(
        transformers.Wav2Vec2Config(**{"num_labels": NUM_LABELS, **config}), attn_implementation="eager"
    ).eval()

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_values: Any) -> Any:
            return self.model(input_values=input_values).logits

    def rows(count: int, samples: int, seed: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        return {"input_values": rng.standard_normal((count, samples)).astype(np.float32)}

    return Subject(
        module=Logits().eval(),
        input_names=["input_values"],
        output_names=["logits"],
        inputs=rows(PARITY_ROWS, AUDIO_SAMPLES, seed=0),
        trace_inputs=rows(2, TRACE_AUDIO_SAMPLES, seed=1),
        dynamic_axes={"input_values": {0: "batch", 1: "samples"}, "logits": {0: "batch"}},
        tolerance=1e-4,
    )
