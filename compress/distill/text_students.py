"""Shared helpers of the text student builders: configs, layer maps, teacher-initialised weights."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgeship.errors import DistillError

if TYPE_CHECKING:
    import torch

    from edgeship.sources.loading import LoadedModel


def uniform_layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """Teacher hidden-state index for each student hidden state: embeddings to embeddings, layer m to m*N/M."""
    return [0] + [round((m + 1) * teacher_layers / student_layers) for m in range(student_layers)]


def student_model(teacher: LoadedModel, config: Any) -> Any:
    """A model built from `config` with eager attention and the teacher's head: the teacher task's transformers
    class (a sequence or token classifier with the teacher's labels, or the bare encoder of a sentence
    encoder)."""
    import transformers

    from edgeship.tasks.base import get_task

    task = get_task(teacher.task)
    config.pad_token_id = getattr(teacher.config, "pad_token_id", 0)
    if str(teacher.task) != "feature-extraction":
        config.num_labels = len(teacher.labels)
        config.id2label = dict(enumerate(teacher.labels))
        config.label2id = {name: i for i, name in enumerate(teacher.labels)}
    auto_class: Any = getattr(transformers, f"AutoModel{task.hf_head.removeprefix('Model')}")
    try:
        return auto_class.from_config(config, attn_implementation="eager")
    except ValueError as exc:
        raise DistillError(
            f"cannot build a {task.id} model ({task.hf_head}) from a {config.model_type} config: "
            f"{str(exc).splitlines()[0][:160]}",
            hint="give an encoder config (BERT, DistilBERT, MobileBERT, RoBERTa, ...)",
        ) from exc


def check_tokenizer_fits(teacher: LoadedModel, config: Any) -> None:
    """Refuse a student whose vocabulary or positions cannot take the teacher's tokenizer's ids."""
    teacher_vocab = int(teacher.config.vocab_size)
    if int(config.vocab_size) < teacher_vocab:
        raise DistillError(
            f"the student's vocabulary ({config.vocab_size}) is smaller than the teacher's ({teacher_vocab}); "
            "the student shares the teacher's tokenizer",
            hint=f"set vocab_size to {teacher_vocab} in the student config",
        )


def encoder_layers(model: Any) -> tuple[str, Any]:
    """The dotted name and the ModuleList of a transformer's layers (the longest `*.layer` list)."""
    import torch

    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and name.split(".")[-1] in ("layer", "layers")
    ]
    if not candidates:
        raise DistillError(
            f"cannot find the transformer layers of {type(model).__name__}",
            hint="use --student custom with a config for this family",
        )
    return max(candidates, key=lambda item: len(item[1]))


def copy_kept_layers(teacher: Any, student: Any, kept: list[int]) -> None:
    """Load the teacher's weights into the student, student layer i taking teacher layer kept[i]."""
    prefix, _ = encoder_layers(teacher)
    state = {}
    for key, value in teacher.state_dict().items():
        if key.startswith(prefix + "."):
            index, rest = key[len(prefix) + 1 :].split(".", 1)
            if int(index) not in kept:
                continue
            key = f"{prefix}.{kept.index(int(index))}.{rest}"
        state[key] = value
    missing, unexpected = student.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise DistillError(
            f"teacher weights do not fit the student: missing {missing[:3]}, unexpected {unexpected[:3]}",
            hint="the student must be the teacher's family and width",
        )


def principal_directions(teacher_embeddings: torch.Tensor, width: int) -> torch.Tensor:
    """The `width` leading principal directions (teacher_width x width) of the teacher's word embeddings."""
    import torch

    centred = teacher_embeddings.float() - teacher_embeddings.float().mean(dim=0, keepdim=True)
    _, _, components = torch.pca_lowrank(centred, q=min(width, centred.shape[1]), center=False, niter=4)
    if components.shape[1] < width:  # student wider than teacher: pad with zero directions
        components = torch.nn.functional.pad(components, (0, width - components.shape[1]))
    return components


def teacher_word_embeddings(teacher: Any) -> torch.Tensor:
    """The teacher's token-embedding matrix."""
    return teacher.get_input_embeddings().weight.detach()


def init_embeddings_from_teacher(teacher: Any, student: Any, embedding_width: int) -> None:
    """Start the student's word and position embeddings as the teacher's, projected to their principal directions."""
    import torch

    directions = principal_directions(teacher_word_embeddings(teacher), embedding_width)
    with torch.no_grad():
        student.get_input_embeddings().weight.copy_(teacher_word_embeddings(teacher).float() @ directions)
        teacher_positions = getattr(teacher.base_model.embeddings, "position_embeddings", None)
        student_positions = getattr(student.base_model.embeddings, "position_embeddings", None)
        if teacher_positions is not None and student_positions is not None:
            projected = teacher_positions.weight.float()
            if student_positions.weight.shape[1] != projected.shape[1]:
                projected = projected @ directions
            if student_positions.weight.shape[1] == projected.shape[1]:
                rows = min(len(projected), len(student_positions.weight))
                student_positions.weight[:rows].copy_(projected[:rows])
