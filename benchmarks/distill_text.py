"""Distillation on text: the demo's MiniLM-L6 teacher vs each student (DistilBERT-, TinyBERT-, MobileBERT-style).

For each model: parameters, ONNX fp32 size, ONNX latency (local agent, seq 64, batch 1, 2 threads, same
runs for all) and accuracy on held-out Rotten Tomatoes reviews. Not run in CI.

    .venv/bin/python benchmarks/distill_text.py [--train 5000 --test 2000 --epochs 3 --runs 100]
        [--students distilbert,tinybert,mobilebert] [--out benchmarks/results/distill_text.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
from pathlib import Path

from bundle_metrics import THREADS, comparison_table, measure  # sibling module: run as benchmarks/<script>.py

MAX_LENGTH = 64  # the demo recipe's sequence length

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    """Train the teacher (cached) and each student, then print and save the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--students", default="distilbert,tinybert,mobilebert")
    parser.add_argument("--work", type=Path, default=Path("out/distill-text"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/distill_text.json"))
    args = parser.parse_args()

    from edgeship.cache import cache_root
    from edgeship.console import results
    from edgeship.export.registry import ExportOptions
    from edgeship.pipeline.distill import DistillOptions, distill_to_bundle
    from edgeship.pipeline.export import export_model
    from edgeship.recipe.data import RecipeData
    from edgeship.recipe.schema import FineTune, Teacher
    from edgeship.recipe.teacher import resolve_teacher
    from edgeship.sources.data import examples_digest
    from edgeship.sources.datasets import load_rotten_tomatoes, split_examples

    train, test = split_examples(load_rotten_tomatoes(), test_size=args.test, train_size=args.train, seed=0)
    test = dataclasses.replace(test, name="rotten_tomatoes")
    teacher = resolve_teacher(  # the demo recipe's teacher, from the same cache
        Teacher(model="packaged:all-minilm-l6-v2", fine_tune=FineTune()),
        RecipeData(train, test, train),
        examples_digest(train),
        cache_root(),
        max_length=MAX_LENGTH,
        seed=0,
    )
    teacher_dir = teacher.model
    shutil.rmtree(args.work, ignore_errors=True)
    export_model(teacher_dir, args.work / "teacher", options=ExportOptions(max_length=MAX_LENGTH))
    rows = [
        {
            "model": "teacher (MiniLM-L6, 6 x 384)",
            **measure(args.work / "teacher", test, args.runs, warmup=10),
        }
    ]
    from edgeship.compress.distill.estimate import count_parameters
    from edgeship.sources.loading import load_model

    rows[0]["parameters"] = count_parameters(load_model(str(teacher_dir)).model)
    for kind in args.students.split(","):
        result = distill_to_bundle(
            str(teacher_dir),
            train,
            args.work / kind,
            DistillOptions(
                student=kind, epochs=args.epochs, learning_rate=1e-4 if kind == "distilbert" else 5e-4
            ),
            eval_data=test,
        )
        rows.append(
            {
                "model": f"{kind} ({result.record['description']})",
                "parameters": result.record["student_parameters"],
                "seconds_training": result.record["seconds"],
                **measure(args.work / kind, test, args.runs, warmup=10),
            }
        )
    table = comparison_table(
        rows,
        f"Distillation on Rotten Tomatoes ({args.train} train / {args.test} test, {args.epochs} epochs)",
    )
    results.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"settings": vars(args) | {"threads": THREADS}, "rows": rows}, indent=2, default=str)
    )


if __name__ == "__main__":
    main()
