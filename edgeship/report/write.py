"""Write report.md, report.html and plots/ for a bundle, all at once or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from edgeship.bundle import Bundle
from edgeship.errors import OutputError
from edgeship.report.build import build_report
from edgeship.report.document import to_html, to_markdown

PLOTS_DIR = "plots"


def write_report(bundle_dir: Path, out: Path | None = None) -> list[Path]:
    """Render the report into `out` (default: the bundle); returns the files written."""
    bundle = Bundle.open(bundle_dir)
    out = out or bundle.root
    if out.exists() and not out.is_dir():
        raise OutputError(f"report output '{out}' is a file", hint="pass a directory to --out")
    report = build_report(bundle.manifest)
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out, prefix=".report-staging-"))
    except OSError as exc:
        raise OutputError(
            f"cannot write to '{out}': {exc.strerror or exc}", hint="choose a writable --out"
        ) from exc
    try:
        (staging / PLOTS_DIR).mkdir()
        for figure in report.figures:
            (staging / figure.path).write_bytes(figure.png)
        (staging / "report.md").write_text(to_markdown(report.blocks), encoding="utf-8")
        (staging / "report.html").write_text(to_html(report.blocks, report.title), encoding="utf-8")
        _install(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / "report.md", out / "report.html", *(out / figure.path for figure in report.figures)]


def _install(staging: Path, out: Path) -> None:
    """Swap the new plots/ in, then the two report files (each by rename)."""
    old_plots = out / PLOTS_DIR
    if old_plots.exists():
        os.replace(old_plots, staging / ".old-plots")
    os.replace(staging / PLOTS_DIR, old_plots)
    for name in ("report.md", "report.html"):
        os.replace(staging / name, out / name)
