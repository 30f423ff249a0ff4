"""A matrix run as a typed JSON file: every cell's verdict, with the date and tool versions."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from edgeship.errors import DataError
from edgeship.manifest import utc_now

Status = Literal["pass", "fail", "n/a"]
TOOLS = (
    "edgeship",
    "torch",
    "transformers",
    "timm",
    "onnx",
    "onnxruntime",
    "litert-torch",
    "ai-edge-litert",
    "ai-edge-quantizer",
)


INSTALLED_PATH = re.compile(r"(?<![\w.>])(?:/[^\s/:'\"]+)+/(site-packages|dist-packages)/")
ABSOLUTE_FOLDERS = re.compile(r"(?<![\w.>])/(?:[^\s/:'\"()]+/)+")


def portable(reason: str) -> str:
    """A reason without the paths of the machine that ran the cell: installed packages as
    <site-packages>/package/..., any other absolute path as its file name."""
    return ABSOLUTE_FOLDERS.sub("", INSTALLED_PATH.sub(r"<\1>/", reason))


class CellResult(BaseModel):
    """One family x cell verdict with its one-line reason (or the numbers that passed)."""

    model_config = ConfigDict(extra="forbid")

    family: str
    cell: str
    status: Status
    reason: Annotated[str, AfterValidator(portable)] = ""
    seconds: float = 0.0
    metrics: dict[str, float] = Field(default_factory=dict)


class MatrixRun(BaseModel):
    """The whole matrix: which families and cells ran, their results and what they ran with."""

    model_config = ConfigDict(extra="forbid")

    created: str = Field(default_factory=utc_now)
    versions: dict[str, str] = Field(default_factory=dict)
    cell_timeout_s: float
    seconds: float = 0.0
    families: list[str]
    cells: list[str]
    results: list[CellResult] = Field(default_factory=list)

    def result(self, family: str, cell: str) -> CellResult | None:
        """The verdict of one cell, if it ran."""
        return next((r for r in self.results if r.family == family and r.cell == cell), None)

    def subset(self, families: list[str], cells: list[str]) -> MatrixRun:
        """The same run restricted to these families and cells (in the run's own order)."""
        return self.model_copy(
            update={
                "families": [name for name in self.families if name in families],
                "cells": [name for name in self.cells if name in cells],
                "results": [r for r in self.results if r.family in families and r.cell in cells],
            }
        )

    def pass_rate(self, cell: str) -> tuple[int, int]:
        """(passed, applicable) for a column; n/a cells do not count."""
        column = [r for r in self.results if r.cell == cell and r.status != "n/a"]
        return sum(1 for r in column if r.status == "pass"), len(column)


def tool_versions() -> dict[str, str]:
    """Installed versions of the tools the matrix exercises."""
    versions = {}
    for tool in TOOLS:
        try:
            versions[tool] = metadata.version(tool)
        except metadata.PackageNotFoundError:
            versions[tool] = "not installed"
    return versions


def save_run(run: MatrixRun, path: Path) -> None:
    """Write the run as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run.model_dump_json(indent=2) + "\n", encoding="utf-8")


def load_run(path: Path) -> MatrixRun:
    """Read a run written by `save_run`, with a one-line error for a missing or malformed file."""
    try:
        return MatrixRun.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(
            f"no saved matrix run at '{path}'", hint="run `edgeship support --save FILE` first"
        ) from exc
    except ValidationError as exc:
        raise DataError(
            f"'{path}' is not a saved matrix run: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}",
            hint="pass a file written by `edgeship support --save`",
        ) from exc
