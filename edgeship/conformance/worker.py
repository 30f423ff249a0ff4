"""The child process that runs one family's cells and reports each as a tagged JSON line on stdout.

The runner kills it when a cell overruns its timeout or the process dies natively, so one architecture
can neither hang nor crash the matrix. Usage: python -m edgeship.conformance.worker FAMILY WORKDIR CELL...
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

TAG = "@@conformance "


def emit(**event: object) -> None:
    """Print one event line for the runner."""
    sys.stdout.write(TAG + json.dumps(event) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    """Build the family's subject once, then run each cell in order."""
    family_name, workdir, cells = argv[0], Path(argv[1]), argv[2:]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from edgeship.conformance.cells import run_cell
    from edgeship.conformance.checks import THREADS, CellFailure, stage
    from edgeship.conformance.families import get_family

    torch.set_num_threads(THREADS)
    workdir.mkdir(parents=True, exist_ok=True)
    emit(event="start", cell="build")
    try:
        with stage("build"):
            subject = get_family(family_name).build(workdir)
    except CellFailure as exc:
        for cell in cells:
            emit(event="result", cell=cell, status="fail", reason=str(exc), seconds=0.0, metrics={})
        return 0
    for cell in cells:
        emit(event="start", cell=cell)
        started = time.perf_counter()
        outcome = run_cell(cell, subject, workdir)
        emit(
            event="result",
            cell=cell,
            status=outcome.status,
            reason=outcome.reason,
            seconds=round(time.perf_counter() - started, 2),
            metrics=outcome.metrics,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
