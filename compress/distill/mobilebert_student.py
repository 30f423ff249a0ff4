"""MobileBERT recipe: deep and narrow with bottlenecks, feature-map and attention transfer from the teacher."""

from __future__ import annotations

from edgeship.compress.distill.registry import Student, StudentOptions, register_student
from edgeship.compress.distill.text_students import (
    check_tokenizer_fits,
    init_embeddings_from_teacher,
    student_model,
    uniform_layer_map,
)
from edgeship.compress.distill.weights import LossWeights
from edgeship.sources.loading import LoadedModel

EMBEDDING_WIDTH = 128
HEADS = 4
FEED_FORWARD_STACK = 4


@register_student("mobilebert")
class MobileBertStudent:
    """transformers' MobileBERT scaled to the teacher: inter-block width = the teacher's, bottleneck a quarter."""

    name = "mobilebert"
    modality = "text"
    summary = "deep and narrow MobileBERT (bottleneck = teacher width / 4), feature-map + attention transfer"

    def build(self, teacher: LoadedModel, options: StudentOptions) -> Student:
        """A MobileBertConfig as deep as the teacher, whose block outputs match the teacher's width."""
        import transformers

        teacher_width = int(teacher.config.hidden_size)
        bottleneck = options.hidden_size or max(HEADS * 8, teacher_width // 4)
        layers = options.layers or int(teacher.config.num_hidden_layers)
        config = transformers.MobileBertConfig(
            vocab_size=int(teacher.config.vocab_size),
            hidden_size=teacher_width,
            embedding_size=EMBEDDING_WIDTH,
            intra_bottleneck_size=bottleneck,
            num_attention_heads=HEADS,
            intermediate_size=4 * bottleneck,
            num_hidden_layers=layers,
            num_feedforward_networks=FEED_FORWARD_STACK,
            max_position_embeddings=int(teacher.config.max_position_embeddings),
            type_vocab_size=int(getattr(teacher.config, "type_vocab_size", 2)),
        )
        check_tokenizer_fits(teacher, config)
        model = student_model(teacher, config)
        init_embeddings_from_teacher(teacher.model, model, EMBEDDING_WIDTH)
        return Student(
            model=model,
            kind=self.name,
            modality="text",
            losses=LossWeights(soft=1.0, hard=0.0, hidden=1.0, attention=1.0),
            width=teacher_width,
            layer_map=uniform_layer_map(layers, int(teacher.config.num_hidden_layers)),
            initialised_from={"embeddings": "teacher principal directions"},
            description=f"mobilebert {layers} x {teacher_width} (bottleneck {bottleneck}, {HEADS} heads)",
        )
