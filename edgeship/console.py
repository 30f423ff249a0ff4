"""The shared rich console (stderr) for progress and status lines."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)
results = Console(width=None if Console().is_terminal else 160)
"""Tables and summaries go to stdout, wide enough to read when piped to a file or CI log."""


@contextlib.contextmanager
def step(message: str) -> Iterator[None]:
    """Show a spinner with `message` while the block runs, then a check mark."""
    with console.status(message):
        yield
    console.print(f"[green]✓[/green] {message}")


def training_progress(label: str, fields: str = "loss {task.fields[loss]}", enabled: bool = True) -> Progress:
    """The progress bar of a training loop: label, bar, steps done of total, `fields`, elapsed time."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(fields), TimeElapsedColumn())
    return Progress(*columns, console=console, disable=not enabled, transient=False)
