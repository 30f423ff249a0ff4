"""DistilBERT recipe: the teacher's family and width with every other layer, initialised from those layers."""

from __future__ import annotations

import copy

from edgeship.compress.distill.registry import Student, StudentOptions, register_student
from edgeship.compress.distill.text_students import copy_kept_layers
from edgeship.compress.distill.weights import LossWeights
from edgeship.errors import DistillError
from edgeship.sources.loading import LoadedModel


def kept_layers(student_layers: int, teacher_layers: int) -> list[int]:
    """Teacher layers the student keeps: one of every N/M, ending at the top layer (0-based)."""
    return [round((i + 1) * teacher_layers / student_layers) - 1 for i in range(student_layers)]


@register_student("distilbert")
class DistilBertStudent:
    """Same family and width as the teacher, half the layers (or --layers), copied from the teacher."""

    name = "distilbert"
    modality = "text"
    summary = "teacher's family and width, every other layer, initialised from the teacher"

    def build(self, teacher: LoadedModel, options: StudentOptions) -> Student:
        """Copy the teacher's config with fewer layers and load the kept layers' weights."""
        teacher_layers = int(teacher.config.num_hidden_layers)
        layers = options.layers or max(1, teacher_layers // 2)
        if not 1 <= layers < teacher_layers:
            raise DistillError(
                f"a distilbert student needs fewer layers than the teacher's {teacher_layers}, not {layers}",
                hint=f"pass --layers between 1 and {teacher_layers - 1}",
            )
        width = int(teacher.config.hidden_size)
        if options.hidden_size not in (None, width):
            raise DistillError(
                f"a distilbert student keeps the teacher's width {width}; --hidden-size {options.hidden_size} asks otherwise",
                hint="use --student tinybert or mobilebert for a narrower student",
            )
        config = copy.deepcopy(teacher.config)
        config.num_hidden_layers = layers
        model = type(teacher.model)(config)
        kept = kept_layers(layers, teacher_layers)
        copy_kept_layers(teacher.model, model, kept)
        return Student(
            model=model,
            kind=self.name,
            modality="text",
            losses=LossWeights(soft=0.5, hard=0.5, hidden=1.0, hidden_loss="cosine"),
            width=width,
            layer_map=[0] + [k + 1 for k in kept],
            initialised_from={"teacher_layers": kept},
            description=f"{config.model_type} {layers} x {width}, layers {kept} of the teacher",
        )
