"""`edgeship debug`: where a converted or quantized variant departs from PyTorch, layer by layer."""

from __future__ import annotations

import typer

from edgeship.cli_options import options_command
from edgeship.console import results
from edgeship.step_options import DebugStep

TABLE_ROWS = 40


def register(app: typer.Typer) -> None:
    """Add the debug command."""

    @options_command(app, DebugStep, name="debug")
    def debug(options: DebugStep) -> None:
        """Compare every layer of a variant with PyTorch or another variant: SNR, cosine, errors, clipping."""
        from edgeship.numerics.render import layer_table, summary_line
        from edgeship.numerics.run import run_debug

        record = run_debug(options)
        results.print(layer_table(record, limit=TABLE_ROWS))
        results.print(summary_line(record))
        results.print(
            f"all {len(record.layers)} layers: {options.bundle / record.raw}; plot: {options.bundle / (record.plot or '')}"
        )
