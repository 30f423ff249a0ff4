"""Student builders on tiny teachers: shapes, parameter counts, DistilBERT's layer copy, loss going down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from edgeship.compress.distill.distilbert_student import kept_layers
from edgeship.compress.distill.estimate import count_parameters, estimate_macs
from edgeship.compress.distill.registry import StudentOptions, build_student, student_names
from edgeship.compress.distill.trainer import TrainOptions, distill
from edgeship.errors import DistillError
from edgeship.sources.data import TextExamples
from edgeship.sources.loading import LoadedModel, load_model


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> LoadedModel:
    """A 4-layer, 64-wide BERT classifier with 2 labels."""
    import transformers

    config = transformers.BertConfig(
        hidden_size=64, num_hidden_layers=4, num_attention_heads=4, intermediate_size=128, num_labels=2
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("teacher") / "bert4"
    transformers.BertForSequenceClassification(config).save_pretrained(path)
    transformers.AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(path)
    return load_model(str(path), labels=["bad", "good"])


def reviews(count: int = 48) -> TextExamples:
    good, bad = ["good", "great", "superb"], ["bad", "awful", "dull"]
    texts = [f"the film was {(good if i % 2 else bad)[i % 3]} " * (1 + i % 3) for i in range(count)]
    return TextExamples(texts, [i % 2 for i in range(count)], ["bad", "good"], "reviews")


def test_registry_lists_every_family() -> None:
    assert student_names() == ["custom", "distilbert", "efficientformer", "mobilebert", "tinybert"]


def test_distilbert_copies_every_other_layer_ending_at_the_top(teacher: LoadedModel) -> None:
    student = build_student("distilbert", teacher, StudentOptions())
    assert (
        kept_layers(2, 4) == [1, 3]
        and kept_layers(3, 6) == [1, 3, 5]
        and kept_layers(6, 12) == [1, 3, 5, 7, 9, 11]
    )
    assert student.model.config.num_hidden_layers == 2 and student.layer_map == [0, 2, 4]
    t_layers, s_layers = teacher.model.bert.encoder.layer, student.model.bert.encoder.layer
    for s_index, t_index in enumerate([1, 3]):
        for (name, s_param), (_, t_param) in zip(
            s_layers[s_index].named_parameters(), t_layers[t_index].named_parameters(), strict=True
        ):
            assert torch.equal(s_param, t_param), name
    assert not torch.equal(s_layers[0].output.dense.weight, t_layers[0].output.dense.weight)
    assert torch.equal(student.model.classifier.weight, teacher.model.classifier.weight)
    assert torch.equal(
        student.model.bert.embeddings.word_embeddings.weight,
        teacher.model.bert.embeddings.word_embeddings.weight,
    )
    per_layer = sum(p.numel() for p in t_layers[0].parameters())
    assert count_parameters(student.model) == count_parameters(teacher.model) - 2 * per_layer


def test_tinybert_and_mobilebert_shapes_and_sizes(teacher: LoadedModel) -> None:
    tiny = build_student("tinybert", teacher, StudentOptions(layers=2, hidden_size=32))
    assert (tiny.model.config.hidden_size, tiny.model.config.num_hidden_layers, tiny.width) == (32, 2, 32)
    assert tiny.layer_map == [0, 2, 4] and tiny.losses.attention > 0 and tiny.losses.transfer_fraction == 0.5
    mobile = build_student("mobilebert", teacher, StudentOptions())
    config = mobile.model.config
    assert (config.model_type, config.hidden_size, config.true_hidden_size, config.num_hidden_layers) == (
        "mobilebert",
        64,
        32,
        4,
    )
    ids = {
        "input_ids": torch.ones(3, 7, dtype=torch.long),
        "attention_mask": torch.ones(3, 7, dtype=torch.long),
    }
    for student in (tiny, mobile):
        out = student.model(**ids, output_hidden_states=True, output_attentions=True)
        assert out.logits.shape == (3, 2) and len(out.hidden_states) == len(student.layer_map)
        assert out.hidden_states[-1].shape[-1] == student.width
    assert count_parameters(tiny.model) < 0.55 * count_parameters(teacher.model)
    assert (
        estimate_macs(tiny.model, "text", sequence_length=32)
        < estimate_macs(teacher.model, "text", sequence_length=32) / 2
    )
    # embeddings start from the teacher's principal directions, not at random
    teacher_norms = teacher.model.bert.embeddings.word_embeddings.weight.norm(dim=1)
    tiny_norms = tiny.model.bert.embeddings.word_embeddings.weight.norm(dim=1)
    assert torch.corrcoef(torch.stack([teacher_norms, tiny_norms]))[0, 1] > 0.5


def test_custom_config_and_mismatches(teacher: LoadedModel, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"model_type": "distilbert", "dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 64})
    )
    student = build_student("custom", teacher, StudentOptions(config=str(config)))
    assert student.model.config.model_type == "distilbert" and student.width == 32
    small = tmp_path / "small.json"
    small.write_text(
        json.dumps({"model_type": "bert", "vocab_size": 1000, "hidden_size": 32, "num_attention_heads": 2})
    )
    with pytest.raises(DistillError, match="vocabulary"):
        build_student("custom", teacher, StudentOptions(config=str(small)))
    with pytest.raises(DistillError, match="vision model but the teacher"):
        build_student("efficientformer", teacher, StudentOptions())
    with pytest.raises(DistillError, match="fewer layers"):
        build_student("distilbert", teacher, StudentOptions(layers=4))
    with pytest.raises(DistillError, match="unknown student"):
        build_student("squeezebert", teacher, StudentOptions())


@pytest.mark.parametrize("kind", ["distilbert", "tinybert", "mobilebert"])
def test_a_few_steps_lower_the_loss(teacher: LoadedModel, kind: str) -> None:
    student = build_student(kind, teacher, StudentOptions(hidden_size=32 if kind == "tinybert" else None))
    losses = student.losses.with_overrides(transfer_fraction=0.0)
    data = reviews(16)
    result = distill(
        teacher,
        student,
        losses,
        data,
        data,
        TrainOptions(epochs=20, batch_size=16, learning_rate=3e-3, warmup_ratio=0.0),
        fingerprint="t",
        progress=False,
    )
    first, last = result.history[0]["loss"], result.history[-1]["loss"]
    # the distilbert student starts as a copy of the teacher's layers, so it has less left to learn
    assert result.steps == 20 and last < (0.95 if kind == "distilbert" else 0.8) * first, (first, last)


def test_efficientformer_student_for_a_vision_teacher(efficientformer_checkpoint: Path) -> None:
    teacher = load_model("timm:efficientformerv2_s0", checkpoint=efficientformer_checkpoint)
    student = build_student("efficientformer", teacher, StudentOptions(variant="efficientformerv2_s0"))
    assert student.model(torch.zeros(2, 3, 224, 224)).shape == (2, 5) and student.width == 176
    assert count_parameters(student.model) == count_parameters(teacher.model)
    with pytest.raises(DistillError, match="unknown efficientformer variant"):
        build_student("efficientformer", teacher, StudentOptions(variant="resnet50"))
    with pytest.raises(DistillError, match="text model but the teacher"):
        build_student("tinybert", teacher, StudentOptions())


@pytest.fixture(scope="module")
def small_vision_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An EfficientFormerV2-S0 at 64 x 64 with 3 labels, saved with timm's config.json beside it."""
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("vision-teacher")
    model = timm.create_model("efficientformerv2_s0", pretrained=False, num_classes=3, img_size=64)
    save_file(model.state_dict(), str(folder / "model.safetensors"))
    config = {
        "model_args": {"img_size": 64},
        "label_names": ["cat", "dog", "fox"],
        "pretrained_cfg": {"input_size": [3, 64, 64], "crop_pct": 1.0, "mean": [0.5] * 3, "std": [0.5] * 3},
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder / "model.safetensors"


def test_timm_checkpoint_config_sets_size_labels_and_normalisation(small_vision_teacher: Path) -> None:
    teacher = load_model("timm:efficientformerv2_s0", checkpoint=small_vision_teacher)
    assert teacher.labels == ["cat", "dog", "fox"] and teacher.image_preprocessing is not None
    assert teacher.image_preprocessing.size == (64, 64) and teacher.image_preprocessing.mean == (0.5,) * 3
    student = build_student("efficientformer", teacher, StudentOptions(hidden_size=64))
    assert student.initialised_from["model_args"]["embed_dims"] == [16, 16, 32, 64]
    assert student.model(torch.zeros(1, 3, 64, 64)).shape == (1, 3) and student.width == 64
    assert count_parameters(student.model) < count_parameters(teacher.model) / 2
    with pytest.raises(DistillError, match="narrows EfficientFormerV2 students"):
        build_student(
            "efficientformer", teacher, StudentOptions(variant="efficientformer_l1", hidden_size=64)
        )


@pytest.mark.slow
def test_narrow_vision_student_at_64_px_makes_a_bundle(small_vision_teacher: Path, tmp_path: Path) -> None:
    from PIL import Image

    from edgeship.manifest import ImagePreprocessing
    from edgeship.pipeline.distill import DistillOptions, distill_to_bundle
    from edgeship.sources.data import ImageExamples

    paths = []
    for index in range(24):
        paths.append(tmp_path / f"{index}.png")
        Image.new("RGB", (40, 40), ((index % 3) * 120, 60, 200 - (index % 3) * 90)).save(paths[-1])
    images = ImageExamples(paths, [i % 3 for i in range(24)], ["cat", "dog", "fox"], "colours")
    options = DistillOptions(family="efficientformer", hidden_size=64, epochs=1, batch_size=8)
    result = distill_to_bundle(
        "timm:efficientformerv2_s0",
        images,
        tmp_path / "student",
        options,
        teacher_checkpoint=small_vision_teacher,
        progress=False,
    )
    manifest, preprocessing = result.bundle.manifest, result.bundle.manifest.preprocessing
    assert manifest.source.role == "student" and isinstance(preprocessing, ImagePreprocessing)
    assert preprocessing.size == (64, 64) and preprocessing.mean == (0.5,) * 3  # the teacher's, not timm's
