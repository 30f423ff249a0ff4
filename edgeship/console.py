"""The shared rich console (stderr) for progress and status lines."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console

console = Console(stderr=True)
results = Console(width=None if Console().is_terminal else 160)
"""Tables and summaries go to stdout, wide enough to read when piped to a file or CI log."""


@contextlib.contextmanager
def step(message: str) -> Iterator[None]:
    """Show a spinner with `message` while the block runs, then a check mark."""
    with console.status(message):
        yield
    console.print(f"[green]✓[/green] {message}")
