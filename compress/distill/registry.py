"""Registry of student builders: each turns a teacher into a smaller student; one module per family."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from edgeship.errors import DistillError
from edgeship.registry import Registry

if TYPE_CHECKING:
    from edgeship.compress.distill.weights import LossWeights
    from edgeship.sources.loading import LoadedModel

Modality = Literal["text", "vision"]


@dataclass(frozen=True)
class StudentOptions:
    """What the user may choose about a student; None means the builder's default."""

    layers: int | None = None
    hidden_size: int | None = None
    variant: str | None = None
    config: str | None = None
    seed: int = 0


@dataclass
class Student:
    """A built student and what the trainer needs to transfer knowledge into it."""

    model: Any
    kind: str
    modality: Modality
    losses: LossWeights
    width: int
    """Width of the student's hidden states (or pooled features) that the loss projects to the teacher's."""
    layer_map: list[int] = field(default_factory=list)
    """Teacher hidden-state index each student hidden state (embeddings first) is matched to."""
    initialised_from: dict[str, Any] = field(default_factory=dict)
    description: str = ""


class StudentBuilder(Protocol):
    """Builds a student of one family from a loaded teacher."""

    name: str
    modality: Modality
    summary: str

    def build(self, teacher: LoadedModel, options: StudentOptions) -> Student:
        """A new student for `teacher` (untrained or initialised from it)."""
        ...


STUDENTS: Registry[StudentBuilder] = Registry("student builder", "edgeship.compress.distill", "_student")


def register_student(name: str) -> Callable[[type], type]:
    """Class decorator: register a student builder under `name`."""

    def decorator(cls: type) -> type:
        STUDENTS.add(name, cls())
        return cls

    return decorator


def student_names() -> list[str]:
    """Every registered student family."""
    return STUDENTS.names()


def build_student(kind: str, teacher: LoadedModel, options: StudentOptions) -> Student:
    """Build a `kind` student for `teacher`, refusing a student of the wrong modality."""
    if kind not in student_names():
        raise DistillError(f"unknown student '{kind}'", hint=f"choose one of: {', '.join(student_names())}")
    builder = STUDENTS.get(kind)
    teacher_modality = "text" if teacher.modality == "text" else "vision"
    if builder.modality != teacher_modality:
        raise DistillError(
            f"a {kind} student is a {builder.modality} model but the teacher {teacher.source} is a {teacher_modality} model",
            hint=f"{teacher_modality} students: "
            + ", ".join(n for n in student_names() if STUDENTS.get(n).modality == teacher_modality),
        )
    import torch

    torch.manual_seed(options.seed)
    student = builder.build(teacher, options)
    if learns_embeddings(teacher):
        teacher_width = int(teacher.config.hidden_size)
        if student.width != teacher_width:
            raise DistillError(
                f"a feature-extraction student must keep the teacher's width {teacher_width} (its sentence "
                f"embeddings are compared with the teacher's); this {kind} student is {student.width} wide",
                hint=f"use --student distilbert or mobilebert, or --hidden-size {teacher_width}",
            )
        student.losses = student.losses.for_embeddings()
    return student


def learns_embeddings(teacher: LoadedModel) -> bool:
    """Whether the teacher is a sentence encoder (feature-extraction): its student learns its embeddings."""
    return str(teacher.task) == "feature-extraction"
