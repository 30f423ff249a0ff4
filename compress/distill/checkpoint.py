"""Training checkpoints as safetensors + JSON (never pickle), written atomically, tied to one run's fingerprint."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from edgeship.errors import DistillError

PREFIX = "step-"
KEEP = 2


def run_fingerprint(**facts: Any) -> str:
    """A hash of everything that makes a run's steps what they are (teacher, student, data, options)."""
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class TrainingState:
    """What a checkpoint restores: step, module weights, optimizer and scheduler state, RNG, loss history."""

    step: int
    modules: dict[str, dict[str, torch.Tensor]]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    rng: dict[str, torch.Tensor]
    history: list[dict[str, float]]


def save_checkpoint(directory: Path, fingerprint: str, state: TrainingState) -> Path:
    """Write `directory/step-NNNNNNN` via a temporary folder and a rename; keep the last KEEP checkpoints."""
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory, prefix=".partial-"))
    for name, tensors in state.modules.items():
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
            str(staging / f"{name}.safetensors"),
        )
    optimizer_tensors, optimizer_rest = _split_optimizer(state.optimizer)
    save_file(optimizer_tensors, str(staging / "optimizer.safetensors"))
    save_file({k: v.contiguous() for k, v in state.rng.items()}, str(staging / "rng.safetensors"))
    record = {
        "fingerprint": fingerprint,
        "step": state.step,
        "modules": sorted(state.modules),
        "optimizer": optimizer_rest,
        "scheduler": state.scheduler,
        "history": state.history,
    }
    (staging / "state.json").write_text(json.dumps(record), encoding="utf-8")
    target = directory / f"{PREFIX}{state.step:07d}"
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    for old in checkpoints(directory)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def checkpoints(directory: Path) -> list[Path]:
    """Complete checkpoints in `directory`, oldest first (partial ones from a killed write are ignored)."""
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir() if p.name.startswith(PREFIX) and (p / "state.json").is_file()
    )


def load_checkpoint(path: Path, fingerprint: str) -> TrainingState:
    """Read a checkpoint (a step folder, or the latest in a checkpoints folder) written by this same run."""
    if path.is_dir() and not (path / "state.json").is_file():
        found = checkpoints(path)
        if not found:
            raise DistillError(
                f"no checkpoint in '{path}'", hint="pass a step-* folder or the run's checkpoint directory"
            )
        path = found[-1]
    if not (path / "state.json").is_file():
        raise DistillError(
            f"'{path}' is not a distillation checkpoint",
            hint="pass a step-* folder written by edgeship distill",
        )
    record = json.loads((path / "state.json").read_text(encoding="utf-8"))
    if record.get("fingerprint") != fingerprint:
        raise DistillError(
            f"checkpoint '{path}' was written by another run (different teacher, student, data or options)",
            hint="resume with the exact command that wrote it, or start afresh without --resume",
        )
    optimizer = _join_optimizer(load_file(str(path / "optimizer.safetensors")), record["optimizer"])
    return TrainingState(
        step=int(record["step"]),
        modules={name: load_file(str(path / f"{name}.safetensors")) for name in record["modules"]},
        optimizer=optimizer,
        scheduler=record["scheduler"],
        rng=load_file(str(path / "rng.safetensors")),
        history=record["history"],
    )


def rng_state() -> dict[str, torch.Tensor]:
    """The torch CPU (and CUDA) random generator states."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state.update({f"cuda{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return state


def restore_rng(state: dict[str, torch.Tensor]) -> None:
    """Put back the states `rng_state` returned."""
    torch.set_rng_state(state["cpu"])
    cuda = [state[k] for k in sorted(state) if k.startswith("cuda")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _join_optimizer(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    for index, values in rest["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": rest["param_groups"]}
