"""Any Hugging Face config the user gives (a config.json, a model directory or a hub id), trained from scratch."""

from __future__ import annotations

import json
from pathlib import Path

from edgeship.compress.distill.registry import Student, StudentOptions, register_student
from edgeship.compress.distill.text_students import check_tokenizer_fits, student_model, uniform_layer_map
from edgeship.compress.distill.weights import LossWeights
from edgeship.errors import DistillError
from edgeship.sources.loading import LoadedModel


@register_student("custom")
class CustomStudent:
    """The user's config with the teacher's labels; logits distillation (add --hidden-weight for more)."""

    name = "custom"
    modality = "text"
    summary = "any Hugging Face encoder config (--student-config), logit distillation"

    def build(self, teacher: LoadedModel, options: StudentOptions) -> Student:
        """Load the config, check it takes the teacher's tokenizer, build an untrained classifier."""
        import transformers

        if not options.config:
            raise DistillError(
                "a custom student needs a config",
                hint="pass --student-config CONFIG.json, a model dir or hub id",
            )
        try:
            if Path(options.config).is_file():
                values = json.loads(Path(options.config).read_text(encoding="utf-8"))
                config = transformers.AutoConfig.for_model(**values)
            else:
                config = transformers.AutoConfig.from_pretrained(options.config)
        except (OSError, ValueError, KeyError) as exc:
            raise DistillError(
                f"cannot read the student config '{options.config}': {str(exc).splitlines()[0][:160]}",
                hint="give a config.json with a model_type, a model directory or a hub id",
            ) from exc
        if getattr(config, "vocab_size", None) is None or getattr(config, "num_hidden_layers", None) is None:
            raise DistillError(
                f"the student config is a {config.model_type} model, not a text encoder like the teacher",
                hint="give a text encoder config (bert, distilbert, mobilebert, roberta, ...)",
            )
        if options.layers:
            config.num_hidden_layers = options.layers
        check_tokenizer_fits(teacher, config)
        model = student_model(teacher, config)
        layers = int(config.num_hidden_layers)
        return Student(
            model=model,
            kind=self.name,
            modality="text",
            losses=LossWeights(soft=0.5, hard=0.5),
            width=int(config.hidden_size),
            layer_map=uniform_layer_map(layers, int(teacher.config.num_hidden_layers)),
            description=f"{config.model_type} {layers} x {config.hidden_size}",
        )
