"""The bench step: time every variant of a bundle on a device and record the results."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgeship.bundle import Bundle
from edgeship.console import console
from edgeship.devices.registry import get_device
from edgeship.errors import EdgeshipError
from edgeship.manifest import Benchmark, Manifest, TextPreprocessing, Variant
from edgeship.pipeline.push import check_runnable, record_benchmark, staged_files
from edgeship.step_options import BenchStep


def input_specs(
    manifest: Manifest, variant: Variant, batch: int, sequence_length: int | None
) -> list[dict[str, Any]]:
    """Concrete agent input specs for `variant`: dynamic axes filled, token ids inside the vocabulary."""
    preprocessing = manifest.preprocessing
    sequence = sequence_length or (
        preprocessing.max_length if isinstance(preprocessing, TextPreprocessing) else 1
    )
    specs = []
    for tensor in manifest.inputs_of(variant):
        shape = [batch if d == "batch" else sequence if isinstance(d, str) else d for d in tensor.shape]
        _check_static(variant, tensor.shape, batch, sequence_length)
        spec: dict[str, Any] = {"name": tensor.name, "dtype": tensor.dtype, "shape": shape}
        if tensor.name == "input_ids" and isinstance(preprocessing, TextPreprocessing):
            spec.update(low=0, high=preprocessing.vocab_size)
        elif tensor.name == "attention_mask":
            spec.update(low=1, high=2)
        elif tensor.name == "token_type_ids":
            spec.update(low=0, high=1)
        specs.append(spec)
    return specs


def _check_static(variant: Variant, shape: list[int | str], batch: int, sequence_length: int | None) -> None:
    """Refuse a batch or sequence length that a static-shape artifact (e.g. .tflite) cannot take."""
    wrong_batch = isinstance(shape[0], int) and shape[0] != batch
    wrong_sequence = (
        sequence_length is not None
        and len(shape) == 2
        and isinstance(shape[1], int)
        and shape[1] != sequence_length
    )
    if wrong_batch or wrong_sequence:
        raise EdgeshipError(
            f"variant '{variant.id}' has the static input shape {shape}: it cannot run "
            + (f"--batch {batch}" if wrong_batch else f"--seq-len {sequence_length}"),
            hint="leave --batch / --seq-len at the exported shape, or pick other variants with --variant",
        )


def run_bench(step: BenchStep) -> list[Benchmark]:
    """`edgeship bench` and `edgeship.bench`: the step's options applied."""
    return bench_bundle(
        step.bundle,
        device=step.device,
        variant_ids=step.variant,
        threads=step.threads,
        runs=step.runs,
        warmup=step.warmup,
        batch=step.batch,
        sequence_length=step.seq_len,
    )


def bench_bundle(
    bundle_dir: Path,
    *,
    device: str = "local",
    variant_ids: list[str] | None = None,
    threads: int | None = None,
    runs: int | None = None,
    warmup: int | None = None,
    batch: int = 1,
    sequence_length: int | None = None,
) -> list[Benchmark]:
    """Benchmark the chosen variants on a device (pushing what it lacks); raw agent JSON goes to
    bench/<device>/, summaries to the manifest. Emulated devices default to 5 runs after 1 warm-up."""
    bundle = Bundle.open(bundle_dir)
    bundle.check_writable()
    target = get_device(device)
    runs = runs if runs is not None else (5 if target.emulated else 50)
    warmup = warmup if warmup is not None else (1 if target.emulated else 5)
    variants = bundle.select_variants(variant_ids)
    specs = [input_specs(bundle.manifest, variant, batch, sequence_length) for variant in variants]
    with console.status(f"Probing {device} ({target.address})"):
        probe = target.probe()
    check_runnable(target, probe, variants, bundle.manifest.source.task)
    threads = threads or probe["cpu"]["cores"] or os.cpu_count() or 1
    files = staged_files(bundle, variants)
    with console.status(f"Pushing {len(variants)} variant(s) to {device}"):
        locations = target.stage(files)
    raws = []
    for variant, item, variant_specs in zip(variants, files, specs, strict=True):
        location = locations[item.relative]
        with console.status(f"Benchmarking {variant.id} on {device} ({runs} runs, {threads} threads)"):
            raws.append(
                target.run_agent(
                    location,
                    variant_specs,
                    artifact_format=variant.format,
                    threads=threads,
                    runs=runs,
                    warmup=warmup,
                )
            )
    with bundle.update() as change:
        return [
            record_benchmark(change, target, variant, raw, batch)
            for variant, raw in zip(variants, raws, strict=True)
        ]
