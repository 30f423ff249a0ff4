"""EfficientFormer / EfficientFormerV2 (timm) students for vision teachers: logit (+ optional feature) distillation."""

from __future__ import annotations

from typing import Any

from edgeship.compress.distill.registry import Student, StudentOptions, register_student
from edgeship.compress.distill.weights import LossWeights
from edgeship.errors import DistillError, MissingDependencyError
from edgeship.sources.loading import LoadedModel

DEFAULT_VARIANT = "efficientformerv2_s0"
VARIANTS = ("efficientformerv2_s0", "efficientformerv2_s1", "efficientformerv2_s2", "efficientformerv2_l")
V1_VARIANTS = ("efficientformer_l1", "efficientformer_l3", "efficientformer_l7")


@register_student("efficientformer")
class EfficientFormerStudent:
    """A randomly initialised timm EfficientFormer(V2) at the teacher's input size with the teacher's labels."""

    name = "efficientformer"
    modality = "vision"
    summary = (
        "timm EfficientFormerV2 s0/s1/s2/l or V1 l1/l3/l7 (--variant; --hidden-size narrows V2),"
        " logit (+ feature) distillation"
    )

    def build(self, teacher: LoadedModel, options: StudentOptions) -> Student:
        """Create the timm model; V2 takes the teacher's image size, V1 needs 224 x 224."""
        try:
            import timm
        except ImportError as exc:
            raise MissingDependencyError(
                "timm is not installed", hint="pip install 'edgeship[vision]' for vision students"
            ) from exc
        variant = options.variant or DEFAULT_VARIANT
        if variant not in VARIANTS + V1_VARIANTS:
            raise DistillError(
                f"unknown efficientformer variant '{variant}'",
                hint=f"choose one of {', '.join(VARIANTS + V1_VARIANTS)}",
            )
        assert teacher.image_preprocessing is not None
        size = teacher.image_preprocessing.size
        extra: dict[str, Any] = {"img_size": list(size)} if variant in VARIANTS else {}
        if options.hidden_size is not None:
            if variant not in VARIANTS:
                raise DistillError(
                    f"--hidden-size narrows EfficientFormerV2 students, not {variant}",
                    hint=f"use one of {', '.join(VARIANTS)}",
                )
            extra["embed_dims"] = narrowed_widths(variant, options.hidden_size)
        if variant in V1_VARIANTS and tuple(size) != (224, 224):
            raise DistillError(
                f"{variant} takes 224 x 224 images; the teacher takes {size[0]} x {size[1]}",
                hint="use an efficientformerv2_* variant, which takes any size divisible by 32",
            )
        model = timm.create_model(variant, pretrained=False, num_classes=len(teacher.labels), **extra)
        widths = f" widths {'/'.join(map(str, extra['embed_dims']))}" if "embed_dims" in extra else ""
        return Student(
            model=model,
            kind=self.name,
            modality="vision",
            losses=LossWeights(soft=0.5, hard=0.5, temperature=4.0),
            width=int(model.num_features),  # type: ignore[arg-type]
            layer_map=[0],
            description=f"timm {variant}{widths} at {size[0]} x {size[1]}",
            initialised_from={"timm_variant": variant, "img_size": list(size), "model_args": extra},
        )


def narrowed_widths(variant: str, last_width: int) -> list[int]:
    """The variant's four stage widths scaled so the last is `last_width` (multiples of 8, at least 16)."""
    from timm.models.efficientformer_v2 import EfficientFormer_width

    if last_width < 16:
        raise DistillError(f"--hidden-size {last_width} is too narrow", hint="use 16 or more")
    base = EfficientFormer_width[variant.removeprefix("efficientformerv2_").upper()]
    return [max(16, round(width * last_width / base[-1] / 8) * 8) for width in base[:-1]] + [last_width]
