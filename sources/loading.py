"""Load a source model (Hugging Face directory or hub id, or timm name) ready for export."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeship.errors import EdgeshipError, ModelNotFoundError, UnsupportedModelError
from edgeship.manifest import ImagePreprocessing, Task
from edgeship.tasks.base import Modality, get_task

if TYPE_CHECKING:
    import torch

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass
class LoadedModel:
    """A PyTorch classifier in eval mode plus what export needs to know about it."""

    model: Any
    framework: str
    architecture: str
    model_type: str
    task: Task
    labels: list[str]
    source: str
    config: Any = None
    tokenizer: Any = None
    image_preprocessing: ImagePreprocessing | None = None
    input_names: list[str] = field(default_factory=list)
    revision: str | None = None
    pooling: str | None = None
    """feature-extraction: "mean" or "cls" (what the graph does to the token states)."""

    @property
    def modality(self) -> Modality:
        """What the model reads: text (token ids) or image (pixels), from its task's descriptor."""
        return get_task(self.task).modality

    def check_max_length(self, max_length: int) -> None:
        """Refuse a sequence length beyond the model's position embeddings (max_position_embeddings)."""
        limit = getattr(self.config, "max_position_embeddings", None)
        embeddings = getattr(getattr(self.model, "base_model", None), "embeddings", None)
        offset = getattr(embeddings, "padding_idx", None)  # RoBERTa-style positions start after padding
        if isinstance(limit, int) and isinstance(offset, int):
            limit -= offset + 1
        if isinstance(limit, int) and max_length > limit:
            raise EdgeshipError(
                f"--max-length {max_length} is more than the {limit} tokens '{self.source}' takes "
                "(its position embeddings)",
                hint=f"use a --max-length from 1 to {limit} (in a recipe: export.max_length)",
            )

    def logits_module(self) -> Any:
        """An nn.Module taking the inputs positionally (in `input_names` order) and returning the task's
        one output (logits, or a sentence embedding)."""
        import torch

        model, names, framework, pooling = self.model, self.input_names, self.framework, self.pooling
        task = get_task(self.task)
        positional = framework == "timm" or (framework == "torch" and self.modality == "image")

        class Logits(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
                named = dict(zip(names, inputs, strict=True))
                output = self.model(*inputs) if positional else self.model(**named)
                return output if framework == "timm" else task.graph_output(output, named, pooling)

        return Logits().eval()

    def save_preprocessing(self, directory: Path) -> None:
        """Save the tokenizer (text models) into `directory` so the bundle is self-contained."""
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(str(directory))


def load_model(
    spec: str | torch.nn.Module,
    *,
    checkpoint: Path | None = None,
    task: Task | None = None,
    labels: list[str] | None = None,
    revision: str | None = None,
    tokenizer: Path | None = None,
) -> LoadedModel:
    """Resolve `spec` to a model: `timm:NAME`, a timm name, an HF model directory, an HF hub id, or a plain
    torch module (`module.py:FACTORY` or an nn.Module object, with `task` and, for text, `tokenizer`)."""
    from edgeship.sources.torch_modules import is_factory_spec, load_torch_module

    if not isinstance(spec, str) or is_factory_spec(spec):
        return load_torch_module(spec, checkpoint=checkpoint, task=task, labels=labels, tokenizer=tokenizer)
    path = Path(spec).expanduser()
    if spec.startswith("timm:"):
        from edgeship.sources.timm_models import load_timm_model

        _check_image_classifier(spec, task)
        return load_timm_model(spec.removeprefix("timm:"), checkpoint=checkpoint, labels=labels)
    if path.exists():
        from edgeship.sources.hf_models import load_hf_model

        return load_hf_model(str(path), task=task, labels=labels, revision=None)
    if spec.startswith((".", "/", "~")) or not HUB_ID.match(spec):
        raise ModelNotFoundError(
            f"model path '{spec}' does not exist",
            hint="pass a Hugging Face model directory, a hub id (org/name) or timm:NAME",
        )
    if "/" not in spec and _is_timm_name(spec):
        from edgeship.sources.timm_models import load_timm_model

        _check_image_classifier(spec, task)
        return load_timm_model(spec, checkpoint=checkpoint, labels=labels)
    from edgeship.sources.hf_models import load_hf_model

    return load_hf_model(spec, task=task, labels=labels, revision=revision)


def _check_image_classifier(spec: str, task: Task | None) -> None:
    """timm models are exported as image classifiers; refuse another `--task` before loading weights."""
    if task not in (None, "image-classification"):
        raise UnsupportedModelError(
            f"{spec} is a timm image classifier; it serves image-classification, not {task}",
            hint="drop --task, or pass a model made for " + str(task),
        )


def _is_timm_name(name: str) -> bool:
    try:
        import timm
    except ImportError:
        return False
    return bool(timm.is_model(name))
