"""TinyBERT recipe: a narrow, shallow BERT trained by hidden-state and attention transfer, then on predictions."""

from __future__ import annotations

from edgeship.compress.distill.registry import Student, StudentOptions, register_student
from edgeship.compress.distill.text_students import (
    check_tokenizer_fits,
    init_embeddings_from_teacher,
    student_model,
    uniform_layer_map,
)
from edgeship.compress.distill.weights import LossWeights
from edgeship.errors import DistillError
from edgeship.sources.loading import LoadedModel

DEFAULT_LAYERS, DEFAULT_WIDTH, DEFAULT_INTERMEDIATE = 4, 312, 1200


@register_student("tinybert")
class TinyBertStudent:
    """4 layers x 312 (TinyBERT-4) by default; embeddings start from the teacher's principal directions."""

    name = "tinybert"
    modality = "text"
    summary = "narrow and shallow BERT (4 x 312), hidden + attention transfer, then prediction distillation"

    def build(self, teacher: LoadedModel, options: StudentOptions) -> Student:
        """A BertConfig sized by the options, taking the teacher's tokenizer and labels."""
        import transformers

        width = options.hidden_size or DEFAULT_WIDTH
        layers = options.layers or DEFAULT_LAYERS
        teacher_heads = int(teacher.config.num_attention_heads)
        heads = (
            teacher_heads
            if width % teacher_heads == 0
            else next(h for h in (12, 8, 6, 4, 2, 1) if width % h == 0)
        )
        if layers > int(teacher.config.num_hidden_layers):
            raise DistillError(
                f"a tinybert student of {layers} layers is deeper than its {teacher.config.num_hidden_layers}-layer teacher",
                hint="pass fewer --layers",
            )
        config = transformers.BertConfig(
            vocab_size=int(teacher.config.vocab_size),
            hidden_size=width,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=DEFAULT_INTERMEDIATE if width == DEFAULT_WIDTH else 4 * width,
            max_position_embeddings=int(teacher.config.max_position_embeddings),
            type_vocab_size=int(getattr(teacher.config, "type_vocab_size", 2)),
        )
        check_tokenizer_fits(teacher, config)
        model = student_model(teacher, config)
        init_embeddings_from_teacher(teacher.model, model, width)
        return Student(
            model=model,
            kind=self.name,
            modality="text",
            losses=LossWeights(soft=1.0, hard=0.0, hidden=1.0, attention=1.0, transfer_fraction=0.5),
            width=width,
            layer_map=uniform_layer_map(layers, int(teacher.config.num_hidden_layers)),
            initialised_from={"embeddings": "teacher principal directions"},
            description=f"bert {layers} x {width}, {heads} heads",
        )
