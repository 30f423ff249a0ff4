"""The local device: the host itself, benchmarked through the same standalone agent as any device."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from edgeship.errors import EdgeshipError


def agent_path() -> Path:
    """Path of the standalone agent file (the one copied to remote devices)."""
    import edgeship.runtimes

    return Path(edgeship.runtimes.__file__).resolve().parent / "agent.py"


class LocalDevice:
    """Runs the agent in a fresh Python process on this machine."""

    name = "local"
    emulated = False

    def run_agent(
        self,
        model: Path,
        inputs: list[dict[str, Any]],
        *,
        threads: int,
        runs: int,
        warmup: int,
        timeout: float = 1800,
    ) -> dict[str, Any]:
        """Benchmark `model` with the agent and return its JSON result."""
        command = [
            sys.executable,
            str(agent_path()),
            "--model",
            str(model),
            "--inputs",
            json.dumps(inputs),
            "--threads",
            str(threads),
            "--runs",
            str(runs),
            "--warmup",
            str(warmup),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if completed.returncode != 0:
            last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            raise EdgeshipError(f"benchmark agent failed on {model.name}: {last}", hint="run with --debug")
        return json.loads(completed.stdout)


DEVICES = {"local": LocalDevice}


def get_device(name: str) -> LocalDevice:
    """The device called `name`."""
    if name not in DEVICES:
        raise EdgeshipError(f"unknown device '{name}'", hint=f"choose one of: {', '.join(DEVICES)}")
    return DEVICES[name]()
