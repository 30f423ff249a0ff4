"""`edgeship distill`: train a smaller student from a teacher and write it as a bundle."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeship.console import results


def register(app: typer.Typer) -> None:
    """Add the distill command."""
    from edgeship.compress.distill.registry import STUDENTS, student_names

    students = "; ".join(f"{name}: {STUDENTS.get(name).summary}" for name in student_names())

    @app.command()
    def distill(
        teacher: str = typer.Option(..., help="Teacher: HF classifier directory or hub id, or timm:NAME."),
        student: str = typer.Option("distilbert", help=f"Student family. {students}."),
        data: str = typer.Option(
            ..., help="Labelled training data: CSV/JSONL, image folder, or rotten_tomatoes."
        ),
        out: Path = typer.Option(..., "--out", "-o", help="New bundle directory for the student."),
        eval_data: str | None = typer.Option(
            None, help="Held-out data for accuracy (default: 10% of --data)."
        ),
        teacher_checkpoint: Path | None = typer.Option(None, help="timm teacher weights (.safetensors)."),
        layers: int | None = typer.Option(None, min=1, help="Student depth (default: the family's)."),
        hidden_size: int | None = typer.Option(
            None,
            min=8,
            help="tinybert: width; mobilebert: bottleneck; efficientformer (V2): last-stage width.",
        ),
        variant: str | None = typer.Option(
            None, help="efficientformer: timm variant, e.g. efficientformerv2_s1."
        ),
        student_config: str | None = typer.Option(
            None, help="custom: HF config.json, model directory or hub id."
        ),
        epochs: int = typer.Option(3, min=1),
        batch_size: int = typer.Option(32, min=1),
        lr: float = typer.Option(1e-4, help="Peak learning rate (linear warm-up and decay)."),
        max_length: int = typer.Option(64, min=8, help="Text: sequence length for training and export."),
        temperature: float | None = typer.Option(
            None, help="Soft-target temperature (default: the family's)."
        ),
        alpha: float | None = typer.Option(
            None, min=0.0, max=1.0, help="Soft-target weight; hard labels get 1-alpha."
        ),
        hidden_weight: float | None = typer.Option(
            None, min=0.0, help="Hidden-state / feature transfer weight."
        ),
        attention_weight: float | None = typer.Option(None, min=0.0, help="Attention-map transfer weight."),
        hidden_loss: str | None = typer.Option(None, help="mse or cosine for hidden-state transfer."),
        seed: int = typer.Option(0, help="Seeds the student's initialisation, batch order and dropout."),
        checkpoint_every: int = typer.Option(0, min=0, help="Save a checkpoint every N steps (0: never)."),
        checkpoint_dir: Path | None = typer.Option(
            None, help="Where checkpoints go (default: OUT.checkpoints)."
        ),
        resume: Path | None = typer.Option(
            None, help="Resume from a checkpoint (step-* folder or checkpoint dir)."
        ),
        mixed_precision: str = typer.Option(
            "auto", help="auto (bf16/fp16 on GPU, off on CPU), no, fp16, bf16."
        ),
    ) -> None:
        """Distill TEACHER into a smaller student trained on DATA; writes a student bundle (ONNX fp32)."""
        from edgeship.errors import DistillError
        from edgeship.pipeline.distill import DistillOptions, distill_to_bundle
        from edgeship.tables import variants_table

        if hidden_loss not in (None, "mse", "cosine"):
            raise DistillError(f"unknown --hidden-loss '{hidden_loss}'", hint="use mse or cosine")
        if mixed_precision not in ("auto", "no", "fp16", "bf16"):
            raise DistillError(
                f"unknown --mixed-precision '{mixed_precision}'", hint="use auto, no, fp16 or bf16"
            )
        options = DistillOptions(
            student=student,
            layers=layers,
            hidden_size=hidden_size,
            variant=variant,
            student_config=student_config,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=lr,
            max_length=max_length,
            seed=seed,
            temperature=temperature,
            alpha=alpha,
            hidden_weight=hidden_weight,
            attention_weight=attention_weight,
            hidden_loss=hidden_loss,
            checkpoint_every=checkpoint_every,
            mixed_precision=mixed_precision,
        )
        result = distill_to_bundle(
            teacher,
            data,
            out,
            options,
            eval_data=eval_data,
            teacher_checkpoint=teacher_checkpoint,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
        )
        record = result.record
        results.print(variants_table(result.bundle.manifest, title=f"Student ({record['description']})"))
        accuracy = f"{record['eval_accuracy'][-1]:.2%}" if record["eval_accuracy"] else "-"
        results.print(
            f"Student {record['student_parameters'] / 1e6:.2f}M parameters vs teacher "
            f"{record['teacher_parameters'] / 1e6:.2f}M; PyTorch eval accuracy {accuracy} on "
            f"{record['eval_samples']} examples; bundle at [bold]{result.bundle.root}[/bold]"
        )
