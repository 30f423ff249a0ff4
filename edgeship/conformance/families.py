"""The model families of the matrix, as data: how to build a tiny one and which cells apply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from edgeship.conformance import decoders
from edgeship.conformance.subjects import SPECIAL_TOKENS, Subject, hf_classifier, timm_classifier
from edgeship.errors import EdgeshipError

CELLS: tuple[str, ...] = ("onnx", "onnx-int8", "onnx-int4", "tflite", "tflite-int8")
CELL_TITLES: dict[str, str] = {
    "onnx": "ONNX fp32",
    "onnx-int8": "ONNX int8",
    "onnx-int4": "ONNX int4",
    "tflite": "TFLite fp32",
    "tflite-int8": "TFLite int8",
}
LONG_LENGTH = 4096
CONV_DOMINATED = "convolution-dominated: int4 weight-only targets large MatMul weights"
TEXT: dict[str, Any] = {"num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}
IOB2_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
"""CoNLL-2003's tag set: token-classification families tag with it."""
NER: dict[str, Any] = {
    "num_labels": len(IOB2_TAGS),
    "id2label": dict(enumerate(IOB2_TAGS)),
    "label2id": {tag: index for index, tag in enumerate(IOB2_TAGS)},
}
QA: dict[str, Any] = {"num_labels": 2}
"""Extractive QA heads give two logits per token: the answer's start and its end."""
WORD_TOKENIZER_IDS: dict[str, Any] = {
    "bos_token_id": SPECIAL_TOKENS.index("[CLS]"),
    "sep_token_id": SPECIAL_TOKENS.index("[SEP]"),
    "eos_token_id": SPECIAL_TOKENS.index("[SEP]"),
}
"""Special token ids as the subjects' word tokenizer numbers them (Longformer's QA head finds the question
by the config's separator id, which by default is that tokenizer's [CLS])."""
LONGFORMER: dict[str, Any] = {
    "hidden_size": 64,
    "attention_window": 256,
    "max_position_embeddings": LONG_LENGTH + 2,
    "max_length": LONG_LENGTH,
    **TEXT,
}
BIGBIRD: dict[str, Any] = {
    "hidden_size": 64,
    "attention_type": "block_sparse",
    "block_size": 64,
    "num_random_blocks": 3,
    "max_position_embeddings": LONG_LENGTH,
    "max_length": LONG_LENGTH,
    **TEXT,
}
DECODER: dict[str, Any] = {
    **TEXT,
    "hidden_size": 64,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
}


@dataclass(frozen=True)
class Family:
    """One architecture family: a builder of a tiny random-weight model and the cells that apply."""

    name: str
    title: str
    built_from: str
    build: Callable[[Path], Subject]
    not_applicable: dict[str, str] = field(default_factory=dict)
    """Cells that do not apply, with the reason."""
    task: str = "classification"
    """What the model is exported for: a classifier (text or image, logits), or another task's id."""


def _text(config: str, model: str, **options: Any) -> Callable[[Path], Subject]:
    return partial(hf_classifier, config, model, **options)


def _embedder(config: str, model: str, **options: Any) -> Callable[[Path], Subject]:
    return partial(hf_classifier, config, model, task="feature-extraction", **options)


def _tagger(config: str, model: str, **options: Any) -> Callable[[Path], Subject]:
    return partial(hf_classifier, config, model, task="token-classification", **NER, **options)


def _reader(config: str, model: str, **options: Any) -> Callable[[Path], Subject]:
    return partial(hf_classifier, config, model, task="question-answering", **QA, **options)


def _vision(config: str, model: str, **options: Any) -> Callable[[Path], Subject]:
    return partial(hf_classifier, config, model, text=False, **options)


def _timm(name: str) -> Callable[[Path], Subject]:
    return partial(timm_classifier, name)


FAMILIES: tuple[Family, ...] = (
    Family(
        "bert",
        "BERT",
        "transformers, 2 x 64",
        _text("BertConfig", "BertForSequenceClassification", hidden_size=64, **TEXT),
    ),
    Family(
        "distilbert",
        "DistilBERT",
        "transformers, 2 x 64",
        _text(
            "DistilBertConfig",
            "DistilBertForSequenceClassification",
            dim=64,
            n_layers=2,
            n_heads=4,
            hidden_dim=128,
        ),
    ),
    Family(
        "mobilebert",
        "MobileBERT",
        "transformers, 2 x 64 (bottleneck 32)",
        _text(
            "MobileBertConfig",
            "MobileBertForSequenceClassification",
            hidden_size=64,
            embedding_size=32,
            intra_bottleneck_size=32,
            num_feedforward_networks=2,
            **TEXT,
        ),
    ),
    Family(
        "bert-embed",
        "BERT",
        "transformers BertModel, 2 x 64, mean-pooled + L2-normalised in the graph",
        _embedder("BertConfig", "BertModel", hidden_size=64, **TEXT),
        task="feature-extraction",
    ),
    Family(
        "distilbert-embed",
        "DistilBERT",
        "transformers DistilBertModel, 2 x 64, mean-pooled + L2-normalised in the graph",
        _embedder("DistilBertConfig", "DistilBertModel", dim=64, n_layers=2, n_heads=4, hidden_dim=128),
        task="feature-extraction",
    ),
    Family(
        "xlm-roberta-embed",
        "XLM-RoBERTa",
        "transformers XLMRobertaModel, 2 x 64, mean-pooled + L2-normalised in the graph",
        _embedder("XLMRobertaConfig", "XLMRobertaModel", hidden_size=64, **TEXT),
        task="feature-extraction",
    ),
    Family(
        "albert",
        "ALBERT",
        "transformers, 2 x 64 (embeddings 32)",
        _text("AlbertConfig", "AlbertForSequenceClassification", hidden_size=64, embedding_size=32, **TEXT),
    ),
    Family(
        "squeezebert",
        "SqueezeBERT",
        "transformers, 2 x 64",
        _text(
            "SqueezeBertConfig",
            "SqueezeBertForSequenceClassification",
            hidden_size=64,
            embedding_size=64,
            **TEXT,
        ),
        {"onnx-int4": "projections are grouped 1x1 Conv1d, not MatMuls: nothing for int4 weight-only"},
    ),
    Family(
        "deberta-v2",
        "DeBERTa-v2",
        "transformers, 2 x 64",
        _text("DebertaV2Config", "DebertaV2ForSequenceClassification", hidden_size=64, **TEXT),
    ),
    Family(
        "funnel",
        "Funnel",
        "transformers, 2 blocks x 64",
        _text(
            "FunnelConfig",
            "FunnelForSequenceClassification",
            block_sizes=[1, 1],
            d_model=64,
            n_head=4,
            d_head=16,
            d_inner=128,
        ),
    ),
    Family(
        "longformer",
        "Longformer",
        f"transformers, 2 x 64, window 256, {LONG_LENGTH} tokens",
        _text("LongformerConfig", "LongformerForSequenceClassification", **LONGFORMER),
    ),
    Family(
        "bigbird",
        "BigBird",
        f"transformers, 2 x 64, block-sparse (block 64), {LONG_LENGTH} tokens",
        _text("BigBirdConfig", "BigBirdForSequenceClassification", **BIGBIRD),
    ),
    Family(
        "bert-ner",
        "BERT",
        "transformers BertForTokenClassification, 2 x 64, 9 IOB2 tags",
        _tagger("BertConfig", "BertForTokenClassification", hidden_size=64, **TEXT),
        task="token-classification",
    ),
    Family(
        "distilbert-ner",
        "DistilBERT",
        "transformers DistilBertForTokenClassification, 2 x 64, 9 IOB2 tags",
        _tagger(
            "DistilBertConfig",
            "DistilBertForTokenClassification",
            dim=64,
            n_layers=2,
            n_heads=4,
            hidden_dim=128,
        ),
        task="token-classification",
    ),
    Family(
        "xlm-roberta-ner",
        "XLM-RoBERTa",
        "transformers XLMRobertaForTokenClassification, 2 x 64, 9 IOB2 tags",
        _tagger("XLMRobertaConfig", "XLMRobertaForTokenClassification", hidden_size=64, **TEXT),
        task="token-classification",
    ),
    Family(
        "deberta-v2-ner",
        "DeBERTa-v2",
        "transformers DebertaV2ForTokenClassification, 2 x 64, 9 IOB2 tags",
        _tagger("DebertaV2Config", "DebertaV2ForTokenClassification", hidden_size=64, **TEXT),
        task="token-classification",
    ),
    Family(
        "longformer-ner",
        "Longformer",
        f"transformers LongformerForTokenClassification, 2 x 64, window 256, {LONG_LENGTH} tokens, 9 IOB2 tags",
        _tagger("LongformerConfig", "LongformerForTokenClassification", **LONGFORMER),
        task="token-classification",
    ),
    Family(
        "bigbird-ner",
        "BigBird",
        f"transformers BigBirdForTokenClassification, 2 x 64, block-sparse (block 64), {LONG_LENGTH} tokens, "
        "9 IOB2 tags",
        _tagger("BigBirdConfig", "BigBirdForTokenClassification", **BIGBIRD),
        task="token-classification",
    ),
    Family(
        "bert-qa",
        "BERT",
        "transformers BertForQuestionAnswering, 2 x 64, start and end logits",
        _reader("BertConfig", "BertForQuestionAnswering", hidden_size=64, **TEXT),
        task="question-answering",
    ),
    Family(
        "distilbert-qa",
        "DistilBERT",
        "transformers DistilBertForQuestionAnswering, 2 x 64, start and end logits",
        _reader(
            "DistilBertConfig",
            "DistilBertForQuestionAnswering",
            dim=64,
            n_layers=2,
            n_heads=4,
            hidden_dim=128,
        ),
        task="question-answering",
    ),
    Family(
        "xlm-roberta-qa",
        "XLM-RoBERTa",
        "transformers XLMRobertaForQuestionAnswering, 2 x 64, start and end logits, "
        "pairs laid out as <s> q </s></s> c </s>",
        _reader(
            "XLMRobertaConfig", "XLMRobertaForQuestionAnswering", hidden_size=64, pairs="roberta", **TEXT
        ),
        task="question-answering",
    ),
    Family(
        "deberta-v2-qa",
        "DeBERTa-v2",
        "transformers DebertaV2ForQuestionAnswering, 2 x 64, start and end logits",
        _reader("DebertaV2Config", "DebertaV2ForQuestionAnswering", hidden_size=64, **TEXT),
        task="question-answering",
    ),
    Family(
        "longformer-qa",
        "Longformer",
        f"transformers LongformerForQuestionAnswering, 2 x 64, window 256, {LONG_LENGTH} tokens, start and "
        "end logits, global attention on the question (the tokens before its three separators' first)",
        _reader(
            "LongformerConfig",
            "LongformerForQuestionAnswering",
            pairs="roberta",
            **LONGFORMER,
            **WORD_TOKENIZER_IDS,
        ),
        task="question-answering",
    ),
    Family(
        "bigbird-qa",
        "BigBird",
        f"transformers BigBirdForQuestionAnswering, 2 x 64, block-sparse (block 64), {LONG_LENGTH} tokens, "
        "start and end logits (its question mask looks for the config's separator id 66, which the rows "
        "never hold: no logit is masked)",
        _reader("BigBirdConfig", "BigBirdForQuestionAnswering", **BIGBIRD),
        task="question-answering",
    ),
    Family(
        "vit",
        "ViT",
        "transformers, 2 x 64, 32 px",
        _vision(
            "ViTConfig", "ViTForImageClassification", image_size=32, patch_size=8, hidden_size=64, **TEXT
        ),
    ),
    Family(
        "swin",
        "Swin",
        "transformers, depths 1-1, 32 px",
        _vision(
            "SwinConfig",
            "SwinForImageClassification",
            image_size=32,
            patch_size=2,
            embed_dim=32,
            depths=[1, 1],
            num_heads=[2, 4],
            window_size=4,
        ),
    ),
    Family(
        "efficientformer",
        "EfficientFormer",
        "timm efficientformer_l1 (transformers 5 dropped EfficientFormer)",
        _timm("efficientformer_l1"),
        {"onnx-int4": CONV_DOMINATED},
    ),
    Family(
        "efficientformerv2",
        "EfficientFormerV2",
        "timm efficientformerv2_s0",
        _timm("efficientformerv2_s0"),
        {"onnx-int4": CONV_DOMINATED},
    ),
    Family(
        "mobilevit",
        "MobileViT",
        "transformers, XXS widths, 64 px",
        _vision("MobileViTConfig", "MobileViTForImageClassification", image_size=64),
        {"onnx-int4": CONV_DOMINATED},
    ),
    Family("levit", "LeViT", "timm levit_128s", _timm("levit_128s")),
    Family("fastvit", "FastViT", "timm fastvit_t8", _timm("fastvit_t8"), {"onnx-int4": CONV_DOMINATED}),
    Family("tinyvit", "TinyViT", "timm tiny_vit_5m_224", _timm("tiny_vit_5m_224")),
    Family(
        "llama",
        "LLaMA (no cache)",
        "transformers LlamaForCausalLM, 2 x 64, GQA 4/2",
        partial(
            decoders.causal_lm,
            "LlamaConfig",
            "LlamaForCausalLM",
            input_names=("input_ids", "attention_mask"),
            **DECODER,
        ),
        task="text-generation",
    ),
    Family(
        "llama-kv",
        "LLaMA (KV cache)",
        "transformers LlamaForCausalLM decode step, past keys/values in and out",
        partial(decoders.decode_step, "LlamaConfig", "LlamaForCausalLM", **DECODER),
        task="text-generation",
    ),
    Family(
        "mixtral",
        "Mixtral (MoE)",
        "transformers MixtralForCausalLM, 4 experts, top-2, experts_implementation='batched_mm' "
        "(the default grouped_mm counts tokens with aten::histc, which neither ONNX nor LiteRT has)",
        partial(
            decoders.causal_lm,
            "MixtralConfig",
            "MixtralForCausalLM",
            input_names=("input_ids", "attention_mask"),
            num_local_experts=4,
            num_experts_per_tok=2,
            experts_implementation="batched_mm",
            **DECODER,
        ),
        task="text-generation",
    ),
    Family(
        "mamba",
        "Mamba",
        "transformers MambaForCausalLM, 2 x 64, state 16",
        partial(
            decoders.causal_lm,
            "MambaConfig",
            "MambaForCausalLM",
            input_names=("input_ids", "attention_mask"),
            hidden_size=64,
            state_size=16,
            num_hidden_layers=2,
        ),
        task="text-generation",
    ),
    Family(
        "rwkv",
        "RWKV",
        "transformers RwkvForCausalLM, 2 x 64",
        partial(
            decoders.causal_lm,
            "RwkvConfig",
            "RwkvForCausalLM",
            input_names=("input_ids",),
            hidden_size=64,
            attention_hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            context_length=128,
        ),
        task="text-generation",
    ),
    Family(
        "wav2vec2",
        "Wav2Vec2 (audio)",
        "transformers Wav2Vec2ForSequenceClassification, 2 x 32",
        partial(
            decoders.audio_classifier,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            conv_dim=(32, 32),
            conv_kernel=(10, 3),
            conv_stride=(5, 2),
            num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=4,
            classifier_proj_size=32,
        ),
        task="audio-classification",
    ),
)
FAMILY_NAMES: tuple[str, ...] = tuple(family.name for family in FAMILIES)
TASK_NAMES: tuple[str, ...] = tuple(dict.fromkeys(family.task for family in FAMILIES))


def get_family(name: str) -> Family:
    """The family called `name`, or an error listing them."""
    for family in FAMILIES:
        if family.name == name:
            return family
    raise EdgeshipError(f"unknown family '{name}'", hint=f"choose from: {', '.join(FAMILY_NAMES)}")
