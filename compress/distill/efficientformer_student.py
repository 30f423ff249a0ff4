"""EfficientFormer / EfficientFormerV2 (timm) students for vision teachers: logit (+ optional feature) distillation."""

from __future__ import annotations

from edgeship.compress.distill.registry import Student, StudentOptions, register_student
from edgeship.compress.distill.weights import LossWeights
from edgeship.compress.sources import LoadedModel
from edgeship.errors import DistillError, MissingDependencyError

DEFAULT_VARIANT = "efficientformerv2_s0"
VARIANTS = ("efficientformerv2_s0", "efficientformerv2_s1", "efficientformerv2_s2", "efficientformerv2_l")
V1_VARIANTS = ("efficientformer_l1", "efficientformer_l3", "efficientformer_l7")


@register_student("efficientformer")
class EfficientFormerStudent:
    """A randomly initialised timm EfficientFormer(V2) at the teacher's input size with the teacher's labels."""

    name = "efficientformer"
    modality = "vision"
    summary = "timm EfficientFormerV2 s0/s1/s2/l or V1 l1/l3/l7 (--variant), logit (+ feature) distillation"

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
        extra = {"img_size": size} if variant in VARIANTS else {}
        if variant in V1_VARIANTS and tuple(size) != (224, 224):
            raise DistillError(
                f"{variant} takes 224 x 224 images; the teacher takes {size[0]} x {size[1]}",
                hint="use an efficientformerv2_* variant, which takes any size divisible by 32",
            )
        model = timm.create_model(variant, pretrained=False, num_classes=len(teacher.labels), **extra)
        return Student(
            model=model,
            kind=self.name,
            modality="vision",
            losses=LossWeights(soft=0.5, hard=0.5, temperature=4.0),
            width=int(model.num_features),  # type: ignore[arg-type]
            layer_map=[0],
            description=f"timm {variant} at {size[0]} x {size[1]}",
            initialised_from={"timm_variant": variant, "img_size": list(size)},
        )
