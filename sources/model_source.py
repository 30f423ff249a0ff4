"""How a model is loaded: the `export MODEL` flags and the recipe's `teacher` keys, declared once."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from edgeship.options import StepOptions
from edgeship.tasks.base import TaskId


class ModelSource(StepOptions):
    """Where the weights, labels and (for a plain torch module) the tokenizer of a model come from."""

    checkpoint: Path | None = Field(
        default=None,
        description="Weights: timm or plain torch module (.safetensors, or a weights-only .pt/.pth).",
    )
    task: TaskId | None = Field(
        default=None,
        description="The model's task (a new head for HF/timm models; required for module.py:factory).",
    )
    labels: list[str] | None = Field(
        default=None, description="Label names: comma-separated, or a file with one per line."
    )
    revision: str | None = Field(default=None, description="Hub revision (branch, tag or commit).")
    name: str | None = Field(
        default=None,
        description="What the bundle, its report and kits call the model (default: MODEL as given).",
    )
    tokenizer: Path | None = Field(
        default=None, description="Plain torch modules of text tasks: the tokenizer directory."
    )

    @field_validator("labels", mode="before")
    @classmethod
    def _read_labels(cls, value: object) -> object:
        """`a,b`, a file with one label per line, or a list as it is."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], str):
            return value
        path = Path(items[0])
        if path.is_file():
            return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [name.strip() for name in items[0].split(",") if name.strip()]
