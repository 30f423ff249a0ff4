"""The distillation loop on HF Accelerate: the same code on one CPU, several GPUs (DDP) or DeepSpeed/FSDP."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import get_linear_schedule_with_warmup

from edgeship.compress.distill.batches import (
    Examples,
    accepted_inputs,
    collate_function,
    held_out_score,
    run_batches,
    training_rows,
)
from edgeship.compress.distill.checkpoint import (
    TrainingState,
    load_checkpoint,
    restore_rng,
    rng_state,
    save_checkpoint,
)
from edgeship.compress.distill.losses import DistillationLoss, Outputs
from edgeship.compress.distill.registry import Student
from edgeship.compress.distill.weights import LossWeights
from edgeship.console import console, training_progress
from edgeship.sources.loading import LoadedModel
from edgeship.tasks.base import get_task

LOSS_WINDOW = 10


@dataclass(frozen=True)
class TrainOptions:
    """Hyper-parameters of a distillation run."""

    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-4
    max_length: int = 64
    seed: int = 0
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    checkpoint_every: int = 0
    mixed_precision: Literal["auto", "no", "fp16", "bf16"] = "auto"


@dataclass
class TrainResult:
    """What a run did: steps, the last losses, the held-out metric after each epoch, where it resumed from."""

    steps: int
    final_loss: float
    eval_scores: list[float] = field(default_factory=list)
    """The teacher task's metric (`eval_metric`) on the held-out examples after each epoch."""
    eval_metric: str = "accuracy"
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from: int = 0
    seconds: float = 0.0


def model_outputs(
    model: Any,
    framework: str,
    inputs: dict[str, torch.Tensor],
    features: bool,
    attention: bool,
    output_task: str | None = None,
    pooling: str | None = None,
) -> Outputs:
    """Logits, or the graph output of `output_task` (a sentence encoder's pooled embedding, an extractive
    QA model's start and end logits stacked), plus hidden states (text) or pooled features (vision) and
    attention maps when asked."""
    if framework == "timm":
        maps = model.forward_features(inputs["pixel_values"])
        pooled = (model.forward_head(maps, pre_logits=True),) if features else ()
        return Outputs(model.forward_head(maps), pooled)
    out = model(**accepted_inputs(model, inputs), output_hidden_states=features, output_attentions=attention)
    hidden = tuple(out.hidden_states or ())
    if hidden and "pixel_values" in inputs:
        hidden = (hidden[-1][:, 0],)
    output = out.logits if output_task is None else get_task(output_task).graph_output(out, inputs, pooling)
    return Outputs(output, hidden, tuple(out.attentions or ()))


def _mixed_precision(choice: str) -> str:
    if choice != "auto":
        return choice
    if not torch.cuda.is_available():
        return "no"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def teacher_width(teacher: LoadedModel) -> int:
    """Width of the teacher's hidden states (text) or pooled features (timm)."""
    if teacher.framework == "timm":
        return int(teacher.model.num_features)
    return int(teacher.config.hidden_size)


def distill(
    teacher: LoadedModel,
    student: Student,
    losses: LossWeights,
    train: Examples,
    evaluation: Examples | None,
    options: TrainOptions,
    *,
    fingerprint: str,
    checkpoint_dir: Path | None = None,
    resume: Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train `student.model` in place to imitate `teacher`; checkpoints every N steps; resumes a killed run."""
    from accelerate import Accelerator, DistributedDataParallelKwargs
    from accelerate.utils import set_seed

    accelerator = Accelerator(
        mixed_precision=_mixed_precision(options.mixed_precision),
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    set_seed(options.seed)
    student_framework = "timm" if student.modality == "vision" else "transformers"
    task = get_task(teacher.task)
    spans = task.data_kind == "questions"
    output_task = teacher.task if losses.embedding or spans else None
    loss_fn = DistillationLoss(losses, student.layer_map, student.width, teacher_width(teacher), spans)
    rows = training_rows(train, teacher, options.max_length)
    batches = run_batches(rows, teacher, options.batch_size, options.epochs, options.max_length, options.seed)
    loader: torch.utils.data.DataLoader[Any] = torch.utils.data.DataLoader(
        list(range(len(rows))),  # type: ignore[arg-type]
        batch_sampler=batches,
        collate_fn=collate_function(rows, teacher, options.max_length),
        generator=torch.Generator().manual_seed(options.seed),  # iterators draw here, not from the global RNG
    )
    parameters = [p for p in [*student.model.parameters(), *loss_fn.parameters()] if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in parameters if p.ndim >= 2], "weight_decay": options.weight_decay},
            {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0},
        ],
        lr=options.learning_rate,
    )
    has_projections = any(True for _ in loss_fn.parameters())
    model, optimizer, loader = accelerator.prepare(student.model, optimizer, loader)
    if has_projections:
        loss_fn = accelerator.prepare(loss_fn)
    total = len(loader)
    scheduler = get_linear_schedule_with_warmup(optimizer, round(options.warmup_ratio * total), total)
    teacher_model = teacher.model.to(accelerator.device).eval()
    history: list[dict[str, float]] = []
    start_step = 0
    if resume is not None:
        state = load_checkpoint(resume, fingerprint)
        accelerator.unwrap_model(model).load_state_dict(state.modules["model"])
        accelerator.unwrap_model(loss_fn).load_state_dict(state.modules["loss"])
        optimizer.load_state_dict(state.optimizer)
        scheduler.load_state_dict(state.scheduler)
        restore_rng(state.rng)
        start_step, history = state.step, state.history
        console.print(f"Resuming from step {start_step} of {total}")
    steps_per_epoch = -(-total // options.epochs)
    transfer_steps = round(losses.transfer_fraction * total)
    want_features = bool(losses.hidden)
    want_attention = bool(losses.attention) and student.modality == "text"
    eval_scores: list[float] = []
    started = time.perf_counter()
    model.train()
    fields = f"loss {{task.fields[loss]}} · eval {task.metric} {{task.fields[score]}}"
    with training_progress("distilling", fields, enabled=progress and accelerator.is_main_process) as bar:
        bar_task = bar.add_task("distill", total=total, completed=start_step, loss="-", score="-")
        data = accelerator.skip_first_batches(loader, start_step) if start_step else loader
        for step, (inputs, labels) in enumerate(data, start=start_step + 1):
            transfer_stage = step <= transfer_steps
            with torch.no_grad(), accelerator.autocast():
                target = model_outputs(
                    teacher_model,
                    teacher.framework,
                    inputs,
                    want_features,
                    want_attention,
                    output_task,
                    teacher.pooling,
                )
            output = model_outputs(
                model,
                student_framework,
                inputs,
                want_features or transfer_stage,
                want_attention,
                output_task,
                teacher.pooling,
            )
            loss, terms = loss_fn(output, target, labels, inputs.get("attention_mask"), transfer_stage)
            accelerator.backward(loss)
            if options.max_grad_norm:
                accelerator.clip_grad_norm_(parameters, options.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            history.append({"step": step, "loss": float(loss.detach()), **terms})
            recent = [h["loss"] for h in history[-LOSS_WINDOW:]]
            bar.update(bar_task, completed=step, loss=f"{sum(recent) / len(recent):.4f}")
            if (
                (step % steps_per_epoch == 0 or step == total)
                and evaluation is not None
                and accelerator.is_main_process
            ):
                eval_scores.append(
                    held_out_score(
                        accelerator.unwrap_model(model),
                        student_framework,
                        evaluation,
                        teacher,
                        options.max_length,
                    )
                )
                bar.update(bar_task, score=task.format_score(eval_scores[-1]))
                model.train()
            if (
                options.checkpoint_every
                and checkpoint_dir
                and step % options.checkpoint_every == 0
                and step < total
            ):
                accelerator.wait_for_everyone()
                if accelerator.is_main_process:
                    state = TrainingState(
                        step=step,
                        modules={
                            "model": accelerator.unwrap_model(model).state_dict(),
                            "loss": accelerator.unwrap_model(loss_fn).state_dict(),
                        },
                        optimizer=optimizer.state_dict(),
                        scheduler=scheduler.state_dict(),
                        rng=rng_state(),
                        history=history,
                    )
                    save_checkpoint(checkpoint_dir, fingerprint, state)
    model.eval()
    student.model = accelerator.unwrap_model(model)
    recent = [h["loss"] for h in history[-LOSS_WINDOW:]] or [float("nan")]
    return TrainResult(
        steps=total,
        final_loss=sum(recent) / len(recent),
        eval_scores=eval_scores,
        eval_metric=task.metric,
        history=history,
        resumed_from=start_step,
        seconds=time.perf_counter() - started,
    )
