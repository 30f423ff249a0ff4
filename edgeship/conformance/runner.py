"""Run the matrix: one worker process per family, a timeout per cell, a restart after a hang or crash."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from edgeship.conformance.families import get_family
from edgeship.conformance.results import CellResult, MatrixRun, tool_versions
from edgeship.conformance.worker import TAG

DEFAULT_CELL_TIMEOUT_S = 600.0


def run_matrix(
    families: list[str],
    cells: list[str],
    workdir: Path,
    *,
    cell_timeout_s: float = DEFAULT_CELL_TIMEOUT_S,
    on_result: Callable[[CellResult], None] | None = None,
) -> MatrixRun:
    """Every family x cell, each cell pass / fail (one-line reason) / n/a; never raises for a cell."""
    run = MatrixRun(versions=tool_versions(), cell_timeout_s=cell_timeout_s, families=families, cells=cells)
    started = time.perf_counter()
    for name in families:
        family = get_family(name)
        results = [
            CellResult(family=name, cell=cell, status="n/a", reason=family.not_applicable[cell])
            for cell in cells
            if cell in family.not_applicable
        ]
        pending = [cell for cell in cells if cell not in family.not_applicable]
        while pending:
            finished = _run_worker(name, pending, workdir / name, cell_timeout_s)
            results.extend(finished)
            pending = pending[len(finished) :]
        for result in sorted(results, key=lambda r: cells.index(r.cell)):
            run.results.append(result)
            if on_result:
                on_result(result)
    run.seconds = round(time.perf_counter() - started, 1)
    return run


def _run_worker(family: str, cells: list[str], workdir: Path, timeout_s: float) -> list[CellResult]:
    """Results of the cells one worker finished, in order; the cell in flight fails on a hang or crash."""
    workdir.mkdir(parents=True, exist_ok=True)
    stderr_path = workdir / "worker.log"
    with stderr_path.open("ab") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "edgeship.conformance.worker", family, str(workdir), *cells],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"},
        )
    lines: queue.Queue[str | None] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    results: list[CellResult] = []
    current, started = "build", time.monotonic()
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.0, started + timeout_s - time.monotonic()))
            except queue.Empty:
                reason = f"timeout: still running after {timeout_s:g} s"
                break
            if line is None:
                reason = _crash_reason(process.wait(), stderr_path)
                break
            if not line.startswith(TAG):
                continue
            event = json.loads(line[len(TAG) :])
            if event.pop("event") == "start":
                current, started = event["cell"], time.monotonic()
                continue
            results.append(CellResult(family=family, **event))
            if len(results) == len(cells):
                process.wait()
                return results
    finally:  # a timeout, or the caller interrupted: the worker runs in its own session, so end it
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    elapsed = round(time.monotonic() - started, 2)
    if current == "build":
        return [
            CellResult(family=family, cell=cell, status="fail", reason=f"build {reason}", seconds=elapsed)
            for cell in cells
        ]
    in_flight = cells[len(results)]
    return [
        *results,
        CellResult(family=family, cell=in_flight, status="fail", reason=reason, seconds=elapsed),
    ]


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _crash_reason(returncode: int, stderr_path: Path) -> str:
    """'crash: ...' naming the signal (a native abort or segfault) and the last line the process wrote."""
    how = f"signal {signal.Signals(-returncode).name}" if returncode < 0 else f"exit status {returncode}"
    log = stderr_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    last = " ".join(log[-1].split())[:150] if log else "no output"
    return f"crash: the process died ({how}): {last}"
