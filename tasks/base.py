"""The Task descriptor and its registry: one `*_task.py` module per task, named like transformers' pipelines.

A task says what its model takes (input names, dtypes, dynamic axes) and returns, how sample and parity
inputs are made, when an artifact agrees with PyTorch, which metric scores it on which data formats, which
distillation loss fits it, and the pre- and post-processing that eval, the agent and the app kits share.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Protocol

import numpy as np

from edgeship.manifest import ImagePreprocessing, Parity
from edgeship.options import one_of
from edgeship.registry import Registry


class LoadedModel(Protocol):
    """What a task reads of a loaded model (edgeship.sources.loading.LoadedModel has it)."""

    task: str
    tokenizer: Any
    config: Any
    input_names: list[str]
    image_preprocessing: ImagePreprocessing | None

    def check_max_length(self, max_length: int) -> None: ...


Modality = Literal["text", "image"]


class Task:
    """A task's facts as data (class attributes) and the behaviour that depends on them."""

    id: ClassVar[str]
    modality: ClassVar[Modality]
    summary: ClassVar[str]
    hf_head: ClassVar[str]
    """Suffix of the transformers class that carries this task's head, e.g. ForSequenceClassification."""
    data_formats: ClassVar[tuple[str, ...]]
    """What `--data` / `--eval-data` may be for this task."""
    metric: ClassVar[str]
    distillation_loss: ClassVar[str]
    """What a student learns from the teacher's outputs."""
    postprocessing: ClassVar[str]
    """What the app kits do with the outputs."""

    def sample_inputs(
        self, loaded: LoadedModel, samples: int, max_length: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """`samples` rows per input, every row the same shape (what static-shape artifacts take)."""
        raise NotImplementedError

    def parity(self, outputs: np.ndarray, reference: np.ndarray, tolerance: float) -> Parity:
        """How far an artifact's outputs are from PyTorch's on the same inputs."""
        raise NotImplementedError

    def parity_holds(self, parity: Parity) -> bool:
        """Whether an fp32 artifact agrees with PyTorch closely enough to be written."""
        raise NotImplementedError

    def score(self, outputs: np.ndarray, labels: np.ndarray) -> float:
        """The task's metric (`metric`) of `outputs` against the labels."""
        raise NotImplementedError

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        """What the post-processing turns outputs into, compared between variants (agreement)."""
        raise NotImplementedError


TASKS: Registry[Task] = Registry("task", "edgeship.tasks", "_task", key="name")


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: register a task descriptor under its id."""
    TASKS.add(cls.id, cls())
    return cls


def get_task(task_id: str) -> Task:
    """The descriptor of `task_id`, or an error listing the tasks there are."""
    return TASKS.get(task_id)


def task_names() -> list[str]:
    """Every registered task id."""
    return TASKS.names()


TaskId = Annotated[str, one_of("task", task_names)]
"""A task option: validated against the registered tasks."""


def sample_inputs(
    loaded: LoadedModel, *, samples: int, max_length: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """Synthetic inputs for `loaded`'s task: parity rows, tracing examples, calibration stand-ins."""
    return get_task(loaded.task).sample_inputs(loaded, samples, max_length, np.random.default_rng(seed))
