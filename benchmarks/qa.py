"""Extractive QA end to end: MiniLM fine-tuned with a span head on templated questions and its distilled
student, every variant's SQuAD EM and F1 on the held-out lee_qa_test, agreement with the fp32 teacher, the
real SQuAD and Quoref samples as a smoke test, size and latency, from one recipe run.

Runs `edgeship run examples/qa-lee.yaml` (skip with --no-run to read the bundles of an earlier run), then,
for every variant of the teacher and student bundles: exact match and F1 (SQuAD v1.1's definitions) of the
answers decoded over all windows of each held-out question, the fraction of questions given the same
answer span as the fp32 teacher gives them, F1 on allennlp's 5 SQuAD and 4 Quoref sample questions
(human-written, out of the templated training distribution: a smoke test, not a benchmark), the file size
and the p50 latency the recipe measured here (`local`) and on the emulated Cortex-A72 (`qemu-a72`).

    .venv/bin/python benchmarks/qa.py [--no-run] [--out out] [--results benchmarks/results/qa.json]
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
RECIPE = Path("examples/qa-lee.yaml")
TEACHER_NAME = "lee-minilm-qa"
SAMPLES = ("squad_sample", "quoref_sample")


def span_logits(bundle: Any, variant_id: str, examples: Any) -> tuple[np.ndarray, Any]:
    """The variant's span logits for every window of every question, and the encoded windows."""
    from edgeship.pipeline.features import encode_examples, predict_logits
    from edgeship.runtimes.base import open_session

    variant = bundle.manifest.variant(variant_id)
    encoded = encode_examples(bundle, examples)
    return predict_logits(open_session(bundle.path(variant.file), variant.format), encoded), encoded


def main() -> None:
    """Run the recipe (unless --no-run), score every variant, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="read the bundles of an earlier run")
    parser.add_argument("--out", type=Path, default=Path("out"), help="the recipe's output folder")
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results/qa.json"))
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from edgeship.bundle import Bundle
    from edgeship.sources.datasets import DATASETS
    from edgeship.tasks.base import get_task

    run_seconds = None
    if not args.no_run:
        started = time.perf_counter()
        command = [sys.executable, "-m", "edgeship", "run", str(RECIPE), "--out", str(args.out)]
        subprocess.run(command, check=True)
        run_seconds = time.perf_counter() - started
    held_out = DATASETS["lee_qa_test"]()
    samples = {name: DATASETS[name]() for name in SAMPLES}
    teacher = Bundle.open(args.out / TEACHER_NAME)
    student = Bundle.open(args.out / f"{TEACHER_NAME}-student")
    reference, encoded = span_logits(teacher, "onnx-fp32", held_out)
    task = get_task("question-answering").for_data(encoded)
    rows = []
    for role, bundle in (("teacher", teacher), ("student", student)):
        for variant in bundle.manifest.variants:
            logits, _ = span_logits(bundle, variant.id, held_out)
            scores = task.scores(logits)  # type: ignore[attr-defined]
            row = {
                "model": role,
                "variant": variant.id,
                "exact_match_lee_qa_test": scores["exact_match"],
                "f1_lee_qa_test": scores["f1"],
                "answer_agreement_with_teacher_fp32": task.agreement(logits, reference),
                "megabytes": variant.bytes / 1e6,
                "p50_ms_local": p50(bundle.manifest, variant.id, "local"),
                "p50_ms_qemu_a72_emulated": p50(bundle.manifest, variant.id, "qemu-a72"),
            }
            for name, examples in samples.items():
                sample_logits, sample_encoded = span_logits(bundle, variant.id, examples)
                sample_task = get_task("question-answering").for_data(sample_encoded)
                row[f"f1_{name}"] = sample_task.scores(sample_logits)["f1"]  # type: ignore[attr-defined]
            rows.append(row)
    table = Table(
        title=f"MiniLM extractive QA and its student: SQuAD EM / F1 on {len(held_out)} held-out questions"
    )
    columns = (
        "model",
        "variant",
        "EM",
        "F1",
        "answer = fp32",
        "SQuAD F1",
        "Quoref F1",
        "MB",
        "local p50 ms",
        "A72 p50 ms*",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "variant") else "right")
    for row in rows:
        table.add_row(
            row["model"],
            row["variant"],
            f"{row['exact_match_lee_qa_test']:.2%}",
            f"{row['f1_lee_qa_test']:.2%}",
            f"{row['answer_agreement_with_teacher_fp32']:.4f}",
            f"{row['f1_squad_sample']:.0%}",
            f"{row['f1_quoref_sample']:.0%}",
            f"{row['megabytes']:.1f}",
            f"{row['p50_ms_local']:.2f}" if row["p50_ms_local"] is not None else "-",
            f"{row['p50_ms_qemu_a72_emulated']:.0f}" if row["p50_ms_qemu_a72_emulated"] is not None else "-",
        )
    console = Console(width=160)
    console.print(table)
    console.print("* emulated Cortex-A72 (qemu-aarch64): compares variants, not real A72 milliseconds")
    console.print(
        "lee_qa questions are templated from spaCy's silver entities; SQuAD/Quoref: allennlp's 5 + 4 real samples"
    )
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
