"""`edgeship quantize`: int8 / int4 variants of a bundle's fp32 artifact."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeship.console import results
from edgeship.errors import EdgeshipError


def register(app: typer.Typer) -> None:
    """Add the quantize command."""

    @app.command()
    def quantize(
        bundle: Path = typer.Argument(..., help="Bundle directory with an fp32 variant."),
        scheme: list[str] = typer.Option(
            ..., help="int8-dynamic, int8-static, int4-weight or fp16; repeat or comma-separate for several."
        ),
        artifact_format: str | None = typer.Option(
            None,
            "--format",
            "-f",
            help="Which fp32 artifact to quantize (default: onnx, else the bundle's only one).",
        ),
        source: str | None = typer.Option(None, "--from", help="Variant to quantize (default: FORMAT-fp32)."),
        calibration_data: Path | None = typer.Option(
            None, help="int8-static: labelled data to calibrate on."
        ),
        calibration_samples: int = typer.Option(
            128, min=1, help="int8-static: samples used for calibration."
        ),
        calibration_method: str = typer.Option("minmax", help="int8-static: minmax, entropy or percentile."),
        block_size: int = typer.Option(32, help="int4-weight: 32, 64 or 128 weights per scale."),
        symmetric: bool = typer.Option(True, help="int4-weight: symmetric blocks (no zero point)."),
        int4_algorithm: str = typer.Option("rtn", help="int4-weight: rtn or hqq (HQQ is asymmetric)."),
        per_channel: bool = typer.Option(True, help="int8: per-output-channel weight scales."),
        target_cpu: str | None = typer.Option(None, help="int8-static: x86 or arm (default: this host)."),
        target_runtime: str = typer.Option(
            "onnxruntime",
            help="Who runs the ONNX Q/DQ graph: onnxruntime, or tensorrt (signed symmetric Q/DQ).",
        ),
        keep_float: list[str] | None = typer.Option(None, help="Layer to leave in float (repeatable)."),
        eval_data: Path | None = typer.Option(
            None, help="Labelled data for accuracy (CSV/JSONL or image folder)."
        ),
        eval_split: str = typer.Option("eval", help="Name of the eval split, recorded in the manifest."),
        min_agreement: float | None = typer.Option(
            None,
            help="Least argmax agreement with fp32 on the eval data (e.g. 0.99); below, layers stay float.",
        ),
        max_accuracy_drop: float | None = typer.Option(
            None, help="Points of accuracy a variant may lose; more keeps the most sensitive layers float."
        ),
    ) -> None:
        """Quantize the fp32 variant per scheme; each variant gets parity and, with --eval-data, accuracy."""
        from pydantic import ValidationError

        from edgeship.bundle import Bundle
        from edgeship.compress.quantize.spec import QuantizationSpec
        from edgeship.pipeline.quantize import quantize_bundle
        from edgeship.tables import variants_table

        schemes = [name.strip() for value in scheme for name in value.split(",") if name.strip()]
        try:
            specs = [
                QuantizationSpec(
                    scheme=name,  # type: ignore[arg-type]
                    calibration_samples=calibration_samples,
                    calibration_method=calibration_method,  # type: ignore[arg-type]
                    block_size=block_size,  # type: ignore[arg-type]
                    symmetric=symmetric,
                    int4_algorithm=int4_algorithm,  # type: ignore[arg-type]
                    per_channel=per_channel,
                    target_cpu=target_cpu,  # type: ignore[arg-type]
                    target_runtime=target_runtime,  # type: ignore[arg-type]
                    keep_float=tuple(keep_float or ()),
                )
                for name in schemes
            ]
        except ValidationError as exc:
            first = exc.errors()[0]
            option = "--" + str(first["loc"][0]).replace("_", "-")
            raise EdgeshipError(
                f"{option}: {first['msg']} (got {first['input']!r})",
                hint=f"see `edgeship quantize --help` for {option}",
            ) from exc
        quantize_bundle(
            bundle,
            specs,
            artifact_format=artifact_format,
            source_variant=source,
            calibration_data=calibration_data,
            eval_data=eval_data,
            eval_split=eval_split,
            max_accuracy_drop=max_accuracy_drop,
            min_agreement=min_agreement,
        )
        results.print(variants_table(Bundle.open(bundle).manifest))
