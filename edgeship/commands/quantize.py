"""`edgeship quantize`: int8 / int4 / fp16 variants of a bundle's fp32 artifact."""

from __future__ import annotations

import typer

from edgeship.cli_options import options_command
from edgeship.console import results
from edgeship.step_options import QuantizeStep


def register(app: typer.Typer) -> None:
    """Add the quantize command."""

    @options_command(app, QuantizeStep)
    def quantize(options: QuantizeStep) -> None:
        """Quantize the fp32 variant per scheme; each variant gets parity and, with --eval-data, accuracy."""
        from edgeship.bundle import Bundle
        from edgeship.pipeline.quantize import run_quantize
        from edgeship.tables import variants_table

        run_quantize(options)
        results.print(variants_table(Bundle.open(options.bundle).manifest))
