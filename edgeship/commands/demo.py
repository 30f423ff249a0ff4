"""`edgeship demo`: the whole flow, offline, on the embedded default model and data."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeship.console import results


def register(app: typer.Typer) -> None:
    """Add the demo command."""

    @app.command()
    def demo(
        out: Path = typer.Option(Path("out"), "--out", "-o", help="Directory the demo's bundles go under."),
        train_samples: int = typer.Option(5000, min=8, help="Reviews the teacher is fine-tuned on."),
        test_samples: int = typer.Option(2000, min=8, help="Held-out reviews for accuracy."),
        epochs: int = typer.Option(1, min=1),
        max_length: int = typer.Option(
            64, min=8, help="Sequence length for training, export and benchmarks."
        ),
        bench_runs: int = typer.Option(50, min=1, help="Timed runs per variant."),
        max_accuracy_drop: float = typer.Option(
            1.0, help="Points of accuracy a quantized variant may lose before layers are kept float."
        ),
        retrain: bool = typer.Option(False, help="Fine-tune the teacher again instead of reusing the cache."),
    ) -> None:
        """Fine-tune MiniLM-L6 on Rotten Tomatoes; export, quantize, evaluate and benchmark it, all offline."""
        from edgeship.pipeline.demo import DemoOptions, run_demo
        from edgeship.tables import variants_table

        options = DemoOptions(
            train_samples=train_samples,
            test_samples=test_samples,
            epochs=epochs,
            max_length=max_length,
            bench_runs=bench_runs,
            max_accuracy_drop=max_accuracy_drop,
            retrain=retrain,
        )
        result = run_demo(out, options)
        results.print(
            variants_table(result.bundle.manifest, title="Demo teacher: all-MiniLM-L6-v2 on Rotten Tomatoes")
        )
        if result.student_bundle is not None:
            results.print(
                variants_table(
                    result.student_bundle.manifest,
                    title="Demo student: 3 of the teacher's 6 layers (DistilBERT recipe), distilled",
                )
            )
            results.print(f"PyTorch student accuracy {result.student_pytorch_accuracy:.2%}")
        results.print(
            f"PyTorch teacher accuracy {result.pytorch_accuracy:.2%} on {test_samples} held-out reviews; "
            f"bundle at [bold]{result.bundle.root}[/bold]; finished in {result.seconds:.0f} s"
        )
