"""The export step: load a model, write an artifact, check parity, record it in a bundle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeship.bundle import (
    Bundle,
    install_file,
    is_bundle,
    new_bundle_directory,
    prepare_output,
    sha256_of,
    staging_directory,
)
from edgeship.console import step
from edgeship.errors import BundleError, ParityError
from edgeship.export.archs import arch_config
from edgeship.export.parity import load_reference, measure_parity, reference_logits, save_reference
from edgeship.export.registry import VARIANT_PRECISION, Exporter, ExportOptions, ExportResult, get_exporter
from edgeship.manifest import Manifest, Preprocessing, Producer, Source, TextPreprocessing, Variant
from edgeship.pipeline.export_device import BuildDevice, build_device, engine_on_device
from edgeship.pipeline.export_precision import (
    check_precision,
    parity_fails,
    parity_tolerance,
    with_source_graph,
)
from edgeship.runtimes.base import Session, open_session
from edgeship.sources.loading import LoadedModel, load_model
from edgeship.sources.model_source import ModelSource
from edgeship.step_options import ExportStep
from edgeship.tasks.base import get_task, sample_inputs
from edgeship.version import __version__

if TYPE_CHECKING:
    import torch

TOKENIZER_DIR = "tokenizer"
LABELS_FILE = "labels.txt"
REFERENCE_FILE = "reference/parity.npz"


def run_export(step: ExportStep, module: Any = None) -> tuple[Bundle, Variant]:
    """`edgeship export` and `edgeship.export`: the step's options applied (to `module`, a torch.nn.Module
    object, instead of `step.model` when given)."""
    return export_model(
        step.model if module is None else module,
        step.out,
        artifact_format=step.format,
        source=step.narrow(ModelSource),
        options=step.narrow(ExportOptions),
    )


def export_model(
    model: str | torch.nn.Module,
    out: Path,
    *,
    artifact_format: str = "onnx",
    source: ModelSource | None = None,
    options: ExportOptions | None = None,
) -> tuple[Bundle, Variant]:
    """Export `model` (a spec load_model resolves, or an nn.Module) to `artifact_format` into bundle `out`
    (created, or extended if it exists); with `options.device`, a TensorRT engine is built and parity-checked
    on that device instead of this machine."""
    options = options or ExportOptions()
    source = source or ModelSource()
    exporter = get_exporter(artifact_format)
    derived_from = check_precision(exporter, options, out, here=options.device is None)
    target = build_device(exporter, options.device, options, out)
    existing = is_bundle(out)
    if existing:
        bundle = Bundle.open(out)
        options = with_source_graph(bundle, options, derived_from)
    else:
        prepare_output(out)
    with step(f"Loading {model if isinstance(model, str) else type(model).__name__}"):
        loaded = load_model(
            model,
            checkpoint=source.checkpoint,
            task=source.task,
            labels=source.labels,
            revision=source.revision,
            tokenizer=source.tokenizer,
        )
        loaded.check_max_length(options.max_length)
        if source.name is not None:
            loaded.source = source.name
    if existing:
        _check_same_source(bundle, loaded, source.checkpoint)
        reference = _stored_reference(bundle, options)
        bundle.check_writable()
        with staging_directory(bundle.root) as staging:
            variant, result, staged = _export_variant(
                staging, loaded, artifact_format, options, reference, target
            )
            if (result.inputs, result.outputs) != (bundle.manifest.inputs, bundle.manifest.outputs):
                variant.inputs, variant.outputs = result.inputs, result.outputs
            with bundle.update() as change:
                variant.file = change.install(staged, variant.file)[0]
                change.manifest.put_variant(variant)
        return bundle, variant
    with new_bundle_directory(out) as staging_root:
        with step(f"Computing the PyTorch reference on {options.parity_samples} inputs"):
            inputs = sample_inputs(loaded, samples=options.parity_samples, max_length=options.max_length)
            reference = (inputs, reference_logits(loaded, inputs))
        with staging_directory(staging_root) as staging:
            variant, result, staged = _export_variant(
                staging, loaded, artifact_format, options, reference, target
            )
            install_file(staged, staging_root / variant.file)
        manifest = _new_manifest(loaded, result, options)
        manifest.put_variant(variant)
        (staging_root / REFERENCE_FILE).parent.mkdir()
        save_reference(staging_root / REFERENCE_FILE, *reference)
        manifest.parity_reference = REFERENCE_FILE
        loaded.save_preprocessing(staging_root / TOKENIZER_DIR)
        if loaded.labels:
            (staging_root / LABELS_FILE).write_text("\n".join(loaded.labels) + "\n", encoding="utf-8")
        Bundle(staging_root, manifest).save()
    return Bundle(out, manifest), variant


def _stored_reference(bundle: Bundle, options: ExportOptions) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The bundle's parity inputs and PyTorch logits, refusing a different sequence length."""
    preprocessing = bundle.manifest.preprocessing
    if isinstance(preprocessing, TextPreprocessing) and preprocessing.max_length != options.max_length:
        raise BundleError(
            f"bundle {bundle.root} was exported with --max-length {preprocessing.max_length}, not {options.max_length}",
            hint=f"pass --max-length {preprocessing.max_length} or export into a new --out directory",
        )
    if bundle.manifest.parity_reference is None:
        raise BundleError(
            f"bundle {bundle.root} has no parity reference", hint="re-export it into a new directory"
        )
    return load_reference(bundle.path(bundle.manifest.parity_reference))


def _export_variant(
    staging: Path,
    loaded: LoadedModel,
    artifact_format: str,
    options: ExportOptions,
    reference: tuple[dict[str, np.ndarray], np.ndarray],
    target: BuildDevice | None = None,
) -> tuple[Variant, ExportResult, Path]:
    """Export into a file in `staging` (here, or built on `target`) and check parity; returns the variant
    (naming the file it is to be installed as), the export result and the staged file."""
    exporter = get_exporter(artifact_format)
    tolerance = parity_tolerance(options, arch_config(loaded.model_type).tolerance)
    precision = VARIANT_PRECISION[options.precision]
    variant_id = f"{artifact_format}-{precision}"
    file = f"models/{variant_id}{exporter.suffix}"
    staged = staging / f"{variant_id}{exporter.suffix}"
    if target is None:
        artifact = _exported_here(exporter, loaded, staged, options)
    else:
        artifact = engine_on_device(target, exporter, loaded, staged, options, file)
    with artifact as (result, session):
        where = f" on {target.device.name}" if target else ""
        with step(f"Checking parity on {len(reference[1])} inputs{where}"):
            parity = measure_parity(session, *reference, tolerance, loaded.task)
        if parity_fails(options, parity, loaded.task):
            agreement = (
                f"argmax agreement {parity.argmax_agreement:.3f}"
                if parity.cosine is None
                else f"min cosine {parity.cosine:.6f}"
            )
            raise ParityError(
                f"{artifact_format} export of {loaded.architecture} disagrees with PyTorch{where}: max abs "
                f"diff {parity.max_abs_diff:.3g} (tolerance {tolerance:g}), {agreement}",
                hint="try --no-optimize or another --opset; nothing was written",
            )
    variant = Variant(
        id=variant_id,
        format=artifact_format,  # type: ignore[arg-type]
        precision=precision,
        file=file,
        bytes=staged.stat().st_size,
        sha256=sha256_of(staged),
        produced_by=Producer(step="export", options=result.options, tools=result.tools),
        source_variant=getattr(exporter, "derived_from", {}).get(options.precision),
        graph=result.graph,
        parity=parity,
        built_for=result.built_for,
    )
    return variant, result, staged


@contextmanager
def _exported_here(
    exporter: Exporter, loaded: LoadedModel, staged: Path, options: ExportOptions
) -> Iterator[tuple[ExportResult, Session]]:
    """Export on this machine into `staged`; yields the result and a session on the file."""
    with step(f"Exporting {loaded.architecture} to {exporter.format}"):
        result = exporter.export(loaded, staged, options)
    yield result, open_session(staged, exporter.format)


def _new_manifest(loaded: LoadedModel, result: ExportResult, options: ExportOptions) -> Manifest:
    preprocessing: Preprocessing
    if loaded.modality == "text":
        preprocessing = TextPreprocessing(
            tokenizer=TOKENIZER_DIR,
            max_length=options.max_length,
            vocab_size=int(loaded.config.vocab_size),
            **get_task(loaded.task).default_preprocessing(options.max_length),
        )
    else:
        assert loaded.image_preprocessing is not None
        preprocessing = loaded.image_preprocessing
    return Manifest(
        created_with=__version__,
        source=Source(
            model=loaded.source,
            framework=loaded.framework,  # type: ignore[arg-type]
            architecture=loaded.architecture,
            task=loaded.task,
            labels=loaded.labels,
            pooling=loaded.pooling,  # type: ignore[arg-type]
            revision=loaded.revision,
        ),
        inputs=result.inputs,
        outputs=result.outputs,
        preprocessing=preprocessing,
    )


def _check_same_source(bundle: Bundle, loaded: LoadedModel, checkpoint: Path | None) -> None:
    """Refuse another model's export into a bundle; the bundle's own saved model (a student) is its own."""
    inside = [Path(loaded.source), *([checkpoint] if checkpoint else [])]
    own = any(path.resolve().is_relative_to(bundle.root.resolve()) for path in inside)
    if bundle.manifest.source.model != loaded.source and not own:
        raise BundleError(
            f"bundle {bundle.root} holds {bundle.manifest.source.model}, not {loaded.source}",
            hint="export a different model into a new --out directory",
        )
