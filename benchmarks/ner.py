"""Named entities end to end: MiniLM fine-tuned as a tagger on silver NER and its distilled student, every
variant's entity F1 on the held-out lee_ner_test, agreement with the fp32 teacher, size and latency, from
one recipe run.

Runs `edgeship run examples/ner-lee.yaml` (skip with --no-run to read the bundles of an earlier run),
then, for every variant of the teacher and student bundles: the entity-level F1 (seqeval) against the
silver tags of the 542 held-out sentences (what the recipe recorded), the fraction of real tokens tagged
as the fp32 teacher tags them, the file size, and the p50 latency the recipe measured here (`local`) and
on the emulated Cortex-A72 (`qemu-a72`: emulated milliseconds, for comparing variants only). The F1 is
against spaCy en_core_web_sm's entities, not human annotations.

    .venv/bin/python benchmarks/ner.py [--no-run] [--out out] [--results benchmarks/results/ner.json]
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
RECIPE = Path("examples/ner-lee.yaml")
TEACHER_NAME = "lee-minilm-ner"


def tag_logits(bundle: Any, variant_id: str, examples: Any) -> np.ndarray:
    """The variant's logits for every sentence ([sentences, tokens, tags], zero on padding)."""
    from edgeship.pipeline.features import encode_examples, predict_logits
    from edgeship.runtimes.base import open_session

    variant = bundle.manifest.variant(variant_id)
    encoded = encode_examples(bundle, examples)
    return predict_logits(open_session(bundle.path(variant.file), variant.format), encoded)


def main() -> None:
    """Run the recipe (unless --no-run), measure agreement, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="read the bundles of an earlier run")
    parser.add_argument("--out", type=Path, default=Path("out"), help="the recipe's output folder")
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results/ner.json"))
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
    held_out = DATASETS["lee_ner_test"]()
    task = get_task("token-classification")
    teacher = Bundle.open(args.out / TEACHER_NAME)
    student = Bundle.open(args.out / f"{TEACHER_NAME}-student")
    reference = tag_logits(teacher, "onnx-fp32", held_out)
    rows = []
    for role, bundle in (("teacher", teacher), ("student", student)):
        for variant in bundle.manifest.variants:
            rows.append(
                {
                    "model": role,
                    "variant": variant.id,
                    "entity_f1_lee_ner_test": variant.accuracy,
                    "token_agreement_with_teacher_fp32": task.agreement(
                        tag_logits(bundle, variant.id, held_out), reference
                    ),
                    "megabytes": variant.bytes / 1e6,
                    "p50_ms_local": p50(bundle.manifest, variant.id, "local"),
                    "p50_ms_qemu_a72_emulated": p50(bundle.manifest, variant.id, "qemu-a72"),
                }
            )
    table = Table(
        title=f"MiniLM NER tagger and its student: entity F1 on {len(held_out)} held-out silver sentences"
    )
    for column in ("model", "variant", "F1", "tags = fp32", "MB", "local p50 ms", "A72 p50 ms*"):
        table.add_column(column, justify="left" if column in ("model", "variant") else "right")
    for row in rows:
        table.add_row(
            row["model"],
            row["variant"],
            f"{row['entity_f1_lee_ner_test']:.2%}" if row["entity_f1_lee_ner_test"] is not None else "-",
            f"{row['token_agreement_with_teacher_fp32']:.4f}",
            f"{row['megabytes']:.1f}",
            f"{row['p50_ms_local']:.2f}" if row["p50_ms_local"] is not None else "-",
            f"{row['p50_ms_qemu_a72_emulated']:.0f}" if row["p50_ms_qemu_a72_emulated"] is not None else "-",
        )
    console = Console(width=140)
    console.print(table)
    console.print("* emulated Cortex-A72 (qemu-aarch64): compares variants, not real A72 milliseconds")
    console.print("F1 is against spaCy en_core_web_sm's silver entities (lee_ner_test), not human labels")
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
