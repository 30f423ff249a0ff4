"""Content-hash step cache: a step runs again only when what it depends on changed.

Each step's key hashes its options and the digests of its inputs (data, upstream artifacts); the keys
of finished steps live in OUT/.edgeship-run/<recipe>.json, written after every step, so a run that
crashed resumes at the first step that did not finish.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeship.bundle import write_text_atomic
from edgeship.console import console
from edgeship.version import __version__


def content_key(*parts: Any) -> str:
    """A stable digest of JSON-able parts (paths as strings) and edgeship's version."""
    text = json.dumps([__version__, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class StepRecord:
    """What one step did in this run."""

    step: str
    status: str
    seconds: float = 0.0
    detail: str = ""


@dataclass
class StepState:
    """The keys of finished steps, persisted after each one."""

    path: Path
    keys: dict[str, str] = field(default_factory=dict)
    records: list[StepRecord] = field(default_factory=list)
    forced: bool = False

    @classmethod
    def open(cls, path: Path) -> StepState:
        """The state of an earlier run at `path`, or an empty one."""
        keys = json.loads(path.read_text())["steps"] if path.is_file() else {}
        return cls(path, {name: entry["key"] for name, entry in keys.items()})

    def start_over(self) -> None:
        """`--force`: run every step again, and let the recipe replace bundles it has no record of."""
        self.keys.clear()
        self.forced = True

    def made(self, prefix: str) -> bool:
        """Whether an earlier run of this recipe finished a step under `prefix` (so made its output)."""
        return any(name.startswith(prefix) for name in self.keys)

    def run(self, step: str, key: str, action: Callable[[], Any], *, done: bool = True) -> bool:
        """Run `action` unless `step` finished with `key` and its outputs are still there (`done`)."""
        return bool(self.run_group(step, [(step, key, done)], lambda stale: action()))

    def run_group(
        self, title: str, items: list[tuple[str, str, bool]], action: Callable[[list[str]], Any]
    ) -> list[str]:
        """Steps (name, key, outputs present) done by one action: it gets the stale names, returns nothing."""
        stale = [name for name, key, done in items if not (done and self.keys.get(name) == key)]
        self.records += [StepRecord(name, "cached") for name, _, _ in items if name not in stale]
        if not stale:
            return stale
        console.rule(f"[bold]{title}")
        started = time.perf_counter()
        action(stale)
        seconds = (time.perf_counter() - started) / len(stale)
        for name, key, _ in items:
            if name in stale:
                self.finish(name, key, seconds)
        return stale

    def finish(self, step: str, key: str, seconds: float, detail: str = "") -> None:
        """Record `step` as done with `key` and persist the state."""
        self.keys[step] = key
        self.records.append(StepRecord(step, "ran", seconds, detail))
        self.save()

    def note(self, step: str, status: str, detail: str = "") -> None:
        """Record what happened outside the key cache: a device skipped with a reason, variants pruned."""
        self.records.append(StepRecord(step, status, detail=detail))

    def forget(self, prefix: str) -> None:
        """Drop every step under `prefix` (its outputs were removed)."""
        self.keys = {name: key for name, key in self.keys.items() if not name.startswith(prefix)}
        self.save()

    def save(self) -> None:
        """Write the keys atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entries = {name: {"key": key} for name, key in self.keys.items()}
        write_text_atomic(self.path, json.dumps({"steps": entries}, indent=2) + "\n")
