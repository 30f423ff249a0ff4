"""Load a source model (Hugging Face directory or hub id, or timm name) ready for export."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeship.errors import ModelNotFoundError
from edgeship.manifest import ImagePreprocessing, Task

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

    def logits_module(self) -> Any:
        """An nn.Module taking the inputs positionally (in `input_names` order) and returning logits."""
        import torch

        model, names, framework = self.model, self.input_names, self.framework

        class Logits(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
                if framework == "timm":
                    return self.model(*inputs)
                return self.model(**dict(zip(names, inputs, strict=True))).logits

        return Logits().eval()

    def save_preprocessing(self, directory: Path) -> None:
        """Save the tokenizer (text models) into `directory` so the bundle is self-contained."""
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(str(directory))


def load_model(
    spec: str,
    *,
    checkpoint: Path | None = None,
    task: Task | None = None,
    labels: list[str] | None = None,
    revision: str | None = None,
) -> LoadedModel:
    """Resolve `spec` to a model: `timm:NAME`, a timm name, an HF model directory or an HF hub id."""
    path = Path(spec).expanduser()
    if spec.startswith("timm:"):
        from edgeship.compress.timm_models import load_timm_model

        return load_timm_model(spec.removeprefix("timm:"), checkpoint=checkpoint, labels=labels)
    if path.exists():
        from edgeship.compress.hf_models import load_hf_model

        return load_hf_model(str(path), task=task, labels=labels, revision=None)
    if spec.startswith((".", "/", "~")) or not HUB_ID.match(spec):
        raise ModelNotFoundError(
            f"model path '{spec}' does not exist",
            hint="pass a Hugging Face model directory, a hub id (org/name) or timm:NAME",
        )
    if "/" not in spec and _is_timm_name(spec):
        from edgeship.compress.timm_models import load_timm_model

        return load_timm_model(spec, checkpoint=checkpoint, labels=labels)
    from edgeship.compress.hf_models import load_hf_model

    return load_hf_model(spec, task=task, labels=labels, revision=revision)


def _is_timm_name(name: str) -> bool:
    try:
        import timm
    except ImportError:
        return False
    return bool(timm.is_model(name))
