"""Sentence embeddings end to end: the real all-MiniLM-L6-v2 and its distilled student, every variant's
Spearman on the Lee pairs, fidelity to the fp32 teacher, size and latency, from one recipe run.

Runs `edgeship run examples/embeddings-lee.yaml` (skip with --no-run to read the bundles of an earlier
run), then, for every variant of the teacher and student bundles: the Spearman correlation with the
human scores of the Lee pairs (what the recipe recorded), the mean cosine of its embeddings to the fp32
teacher's and their top-10 neighbour overlap on the 300 unseen documents of lee_background.cor, the file
size, and the p50 latency the recipe measured here (`local`) and on the emulated Cortex-A72 (`qemu-a72`:
emulated milliseconds, for comparing variants only).

    .venv/bin/python benchmarks/embeddings.py [--no-run] [--out out] [--results benchmarks/results/embeddings.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from recorded import cpu_name, p50

os.environ.setdefault("HF_HUB_OFFLINE", "1")
RECIPE = Path("examples/embeddings-lee.yaml")
TEACHER_NAME = "lee-minilm-embeddings"


def embeddings(bundle: Any, variant_id: str, texts: list[str]) -> np.ndarray:
    """The variant's embedding of every text, batched as `edgeship eval` runs it."""
    from edgeship.pipeline.features import encode_examples, predict_logits
    from edgeship.runtimes.base import open_session
    from edgeship.sources.data import SimilarityExamples

    variant = bundle.manifest.variant(variant_id)
    encoded = encode_examples(bundle, SimilarityExamples(texts=texts, pairs=[], name="lee_background"))
    return predict_logits(open_session(bundle.path(variant.file), variant.format), encoded)


def main() -> None:
    """Run the recipe (unless --no-run), measure fidelity, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="read the bundles of an earlier run")
    parser.add_argument("--out", type=Path, default=Path("out"), help="the recipe's output folder")
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results/embeddings.json"))
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from edgeship.bundle import Bundle
    from edgeship.sources.similarity import load_lee_background
    from edgeship.tasks.base import get_task
    from edgeship.tasks.feature_extraction_task import row_cosines

    run_seconds = None
    if not args.no_run:
        started = time.perf_counter()
        command = [sys.executable, "-m", "edgeship", "run", str(RECIPE), "--out", str(args.out)]
        subprocess.run(command, check=True)
        run_seconds = time.perf_counter() - started
    texts = load_lee_background()
    task = get_task("feature-extraction")
    teacher = Bundle.open(args.out / TEACHER_NAME)
    student = Bundle.open(args.out / f"{TEACHER_NAME}-student")
    reference = embeddings(teacher, "onnx-fp32", texts)
    rows = []
    for role, bundle in (("teacher", teacher), ("student", student)):
        for variant in bundle.manifest.variants:
            vectors = embeddings(bundle, variant.id, texts)
            rows.append(
                {
                    "model": role,
                    "variant": variant.id,
                    "spearman_lee": variant.accuracy,
                    "mean_cosine_to_teacher_fp32": float(np.mean(row_cosines(vectors, reference))),
                    "top10_overlap_with_teacher_fp32": task.agreement(vectors, reference),
                    "megabytes": variant.bytes / 1e6,
                    "p50_ms_local": p50(bundle.manifest, variant.id, "local"),
                    "p50_ms_qemu_a72_emulated": p50(bundle.manifest, variant.id, "qemu-a72"),
                }
            )
    table = Table(
        title=f"all-MiniLM-L6-v2 and its student: Spearman on Lee ({len(teacher.manifest.variants)} + "
        f"{len(student.manifest.variants)} variants), fidelity on {len(texts)} lee_background documents"
    )
    for column in (
        "model",
        "variant",
        "Spearman",
        "cos to fp32",
        "top-10",
        "MB",
        "local p50 ms",
        "A72 p50 ms*",
    ):
        table.add_column(column, justify="left" if column in ("model", "variant") else "right")
    for row in rows:
        table.add_row(
            row["model"],
            row["variant"],
            f"{row['spearman_lee']:.3f}" if row["spearman_lee"] is not None else "-",
            f"{row['mean_cosine_to_teacher_fp32']:.4f}",
            f"{row['top10_overlap_with_teacher_fp32']:.3f}",
            f"{row['megabytes']:.1f}",
            f"{row['p50_ms_local']:.2f}" if row["p50_ms_local"] is not None else "-",
            f"{row['p50_ms_qemu_a72_emulated']:.0f}" if row["p50_ms_qemu_a72_emulated"] is not None else "-",
        )
    console = Console(width=140)
    console.print(table)
    console.print("* emulated Cortex-A72 (qemu-aarch64): compares variants, not real A72 milliseconds")
    results = {
        "recipe": str(RECIPE),
        "recipe_seconds": run_seconds,
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "rows": rows,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
