"""The Task descriptor and its registry: one `*_task.py` module per task, named like transformers' pipelines.

A task says what its model takes (input names, dtypes, dynamic axes) and returns, how sample and parity
inputs are made, when an artifact agrees with PyTorch, which metric scores it on which data formats, which
distillation loss fits it, and the pre- and post-processing that eval, the agent and the app kits share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Protocol

import numpy as np

from edgeship.manifest import ImagePreprocessing, Parity
from edgeship.options import one_of
from edgeship.registry import Registry

if TYPE_CHECKING:
    import torch


class LoadedModel(Protocol):
    """What a task reads of a loaded model (edgeship.sources.loading.LoadedModel has it)."""

    task: str
    tokenizer: Any
    config: Any
    input_names: list[str]
    image_preprocessing: ImagePreprocessing | None

    def check_max_length(self, max_length: int) -> None: ...


class EncodedData(Protocol):
    """What a task's metric may read of encoded eval data besides the outputs and labels
    (edgeship.pipeline.features.EncodedExamples has it)."""

    name: str
    label_names: list[str]
    references: Any
    """Task-specific decoding data: extractive QA's windows, offsets, contexts and answers."""


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
    data_kind: ClassVar[Literal["labelled", "scored-pairs", "tagged-words", "questions"]] = "labelled"
    """How its eval data is shaped: a label per example, text pairs with a similarity score, a tag per
    word, or questions about contexts with their answers."""
    metric: ClassVar[str]
    metric_in_percent: ClassVar[bool] = True
    """Shown as a percentage (accuracy, F1) or as the number it is (a correlation)."""
    distillation_loss: ClassVar[str]
    """What a student learns from the teacher's outputs."""
    postprocessing: ClassVar[str]
    """What the app kits do with the outputs."""
    output_name: ClassVar[str] = "logits"
    """The name of the exported graph's one output."""
    per_token: ClassVar[bool] = False
    """Whether the output has a row per input token ([batch, sequence, ...]: its sequence axis is dynamic)."""

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

    def with_labels(self, label_names: Sequence[str]) -> Task:
        """This task for a model with these label names: a task whose metric reads them (entity F1 reads
        the IOB2 tags) returns a copy that keeps them; the others return themselves."""
        return self

    def for_data(self, encoded: EncodedData) -> Task:
        """This task bound to what its metric reads of `encoded` besides the labels: the label names
        (`with_labels`) and, for extractive QA, the contexts and offsets answers are decoded with."""
        return self.with_labels(encoded.label_names)

    def default_preprocessing(self, max_length: int) -> dict[str, Any]:
        """Task-specific text preprocessing fields of a new manifest (QA: doc_stride, max_answer_length)."""
        return {}

    def format_score(self, value: float) -> str:
        """The metric as tables and reports show it: 87.45% or 0.505."""
        return f"{value:.2%}" if self.metric_in_percent else f"{value:.3f}"

    def plotted_score(self, value: float) -> float:
        """The metric on a plot's axis: percent or the plain number."""
        return 100 * value if self.metric_in_percent else value

    @property
    def axis_label(self) -> str:
        """The metric's name on a plot's axis."""
        return f"{self.metric} (%)" if self.metric_in_percent else self.metric

    def agreement(self, outputs: np.ndarray, reference: np.ndarray) -> float:
        """How often `outputs` lead to the same predictions as `reference` (1.0: always)."""
        return float(np.mean(self.predictions(outputs) == self.predictions(reference)))

    def graph_output(
        self, model_output: Any, inputs: dict[str, torch.Tensor], pooling: str | None
    ) -> torch.Tensor:
        """The one tensor the exported graph returns, from what the PyTorch model returned for `inputs`
        (`pooling`: the model's own, for tasks that pool token states)."""
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
