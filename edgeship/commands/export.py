"""`edgeship export`: write an artifact of a model into a bundle, checked for parity."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeship.console import results
from edgeship.errors import DataError


def register(app: typer.Typer) -> None:
    """Add the export command."""
    from edgeship.export.registry import available_formats

    formats = ", ".join(available_formats())

    @app.command()
    def export(
        model: str = typer.Argument(..., help="HF model directory or hub id (org/name), or timm:NAME."),
        out: Path = typer.Option(..., "--out", "-o", help="Bundle directory to create or extend."),
        artifact_format: str = typer.Option("onnx", "--format", "-f", help=f"Artifact format: {formats}."),
        checkpoint: Path | None = typer.Option(
            None, help="timm weights (.safetensors or weights-only .pth)."
        ),
        task: str | None = typer.Option(None, help="text-classification or image-classification (new head)."),
        labels: str | None = typer.Option(
            None, help="Label names: comma-separated, or a file with one per line."
        ),
        revision: str | None = typer.Option(None, help="Hub revision (branch, tag or commit)."),
        max_length: int = typer.Option(128, help="Text models: sequence length for parity and benchmarks."),
        opset: int | None = typer.Option(None, help="ONNX opset (default: the architecture's pinned opset)."),
        optimize: bool = typer.Option(True, help="Apply ONNX Runtime's transformer graph fusions."),
        parity_samples: int = typer.Option(16, min=1, help="Inputs compared against PyTorch."),
        precision: str = typer.Option(
            "fp32",
            help="fp32, fp16, int8 or int4 (TensorRT; int8/int4 build from the bundle's Q/DQ ONNX variant).",
        ),
        max_batch: int = typer.Option(8, min=1, help="TensorRT: largest batch the engine's profile accepts."),
        workspace_mb: int = typer.Option(2048, min=1, help="TensorRT: builder workspace limit in MiB."),
        timing_cache: Path | None = typer.Option(
            None,
            help="TensorRT: timing cache file (default: one per GPU and version under ~/.cache/edgeship; "
            "with --device, a path on the device).",
        ),
        device: str | None = typer.Option(
            None,
            help="TensorRT: build the engine on this device (e.g. a Jetson added with `edgeship devices add`), "
            "where it will run, and check parity there; default: this machine.",
        ),
    ) -> None:
        """Export MODEL to an artifact in a bundle; fails if it disagrees with PyTorch."""
        from edgeship.export.registry import VARIANT_PRECISION, ExportOptions
        from edgeship.pipeline.export import export_model
        from edgeship.tables import variants_table

        if task not in (None, "text-classification", "image-classification"):
            raise DataError(f"unknown task '{task}'", hint="use text-classification or image-classification")
        if precision not in VARIANT_PRECISION:
            raise DataError(f"unknown precision '{precision}'", hint="use fp32, fp16, int8 or int4")
        bundle, variant = export_model(
            model,
            out,
            artifact_format=artifact_format,
            checkpoint=checkpoint,
            task=task,  # type: ignore[arg-type]
            labels=_parse_labels(labels),
            revision=revision,
            options=ExportOptions(
                max_length=max_length,
                opset=opset,
                optimize=optimize,
                precision=precision,  # type: ignore[arg-type]
                max_batch=max_batch,
                workspace_mb=workspace_mb,
                timing_cache=timing_cache,
            ),
            parity_samples=parity_samples,
            device=device,
        )
        results.print(variants_table(bundle.manifest))
        results.print(f"Wrote [bold]{variant.id}[/bold] to {bundle.root}")


def _parse_labels(labels: str | None) -> list[str] | None:
    if labels is None:
        return None
    path = Path(labels)
    if path.is_file():
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [name.strip() for name in labels.split(",") if name.strip()]
