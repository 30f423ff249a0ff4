"""The debug step: a variant's layers against a reference, measured, recorded in the bundle, shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from edgeship.bundle import Bundle, BundleUpdate, staging_directory
from edgeship.console import step
from edgeship.errors import BundleError, EdgeshipError
from edgeship.export.parity import load_reference
from edgeship.manifest import LayerDebug, LayerError, Variant
from edgeship.numerics.capture import Layers, pytorch_layers, variant_layers
from edgeship.numerics.metrics import first_jump, layer_error, matching_view, worst_layers
from edgeship.pipeline.features import encode_examples, load_examples
from edgeship.step_options import DebugStep

PYTORCH = "pytorch"
SAME_MODEL_ROWS = 4
SAME_MODEL_TOLERANCE = 1e-3
"""Max |logit difference| between a --model and the PyTorch logits the bundle recorded at export."""


def run_debug(options: DebugStep) -> LayerDebug:
    """`edgeship debug` and `edgeship.debug`: the step's options applied."""
    bundle = Bundle.open(options.bundle)
    bundle.check_writable()
    variant = bundle.select_variants([options.variant])[0]
    against = reference_of(bundle, variant, options.against)
    inputs, data = debug_inputs(bundle, options.data, options.samples)
    device = None
    if options.device != "local":
        from edgeship.devices.registry import get_device

        device = get_device(options.device)
    with staging_directory(bundle.root) as scratch:
        with step(f"Running {variant.id} layer by layer on {options.device} ({_rows(inputs)} inputs)"):
            captured = variant_layers(bundle, variant, inputs, device, scratch)
        with step(f"Running the reference, {against}"):
            reference = _reference_layers(bundle, against, inputs, options, scratch)
    layers, unmatched = compare_layers(captured, reference, named_by_reference=against == PYTORCH)
    if not layers:
        raise EdgeshipError(
            f"no layer of {variant.id} could be lined up with {against} ({len(captured.arrays)} tensors "
            f"named by module, {len(reference.arrays)} reference layers)",
            hint="debug a variant exported by edgeship (its tensor names carry the module paths)",
        )
    summary = {
        "variant": variant.id,
        "against": against,
        "device": options.device,
        "samples": _rows(inputs),
        "data": data,
        "layers": layers,
        "first_jump": first_jump(layers),
        "worst": worst_layers(layers),
    }
    with bundle.update() as change:
        suffix = "" if options.device == "local" else f"-{options.device}"
        document = {**summary, "layers": [layer.model_dump() for layer in layers], "unmatched": unmatched}
        raw = change.write_text(
            f"debug/{variant.id}-vs-{against}{suffix}.json", json.dumps(document, indent=2)
        )
        record = LayerDebug(**summary, raw=raw)  # type: ignore[arg-type]
        change.manifest.put_debug(record)
        record.plot = _write_plot(change, record, suffix)
    return record


def _write_plot(change: BundleUpdate, record: LayerDebug, suffix: str) -> str:
    """SNR against depth of every variant debugged against the same reference on the same device."""
    from edgeship.report.plots import snr_by_depth_png

    records = [d for d in change.manifest.debug if (d.against, d.device) == (record.against, record.device)]
    with staging_directory(change.bundle.root) as staging:
        staged = staging / "plot.png"
        staged.write_bytes(snr_by_depth_png(records))
        return change.install(staged, f"debug/{record.variant}-vs-{record.against}{suffix}.png")[0]


def reference_of(bundle: Bundle, variant: Variant, against: str) -> str:
    """`pytorch` or a variant id: `fp32` is the variant's fp32 source (PyTorch for an fp32 variant)."""
    if against == "fp32":
        return variant.source_variant if variant.precision != "fp32" and variant.source_variant else PYTORCH
    if against == PYTORCH:
        return PYTORCH
    if against == variant.id:
        raise EdgeshipError(
            f"--against {against} is the variant itself", hint="compare with fp32, pytorch or another variant"
        )
    bundle.select_variants([against])
    return against


def debug_inputs(bundle: Bundle, data: Path | None, samples: int) -> tuple[dict[str, np.ndarray], str]:
    """The first `samples` rows of `data` (encoded as eval does) or of the bundle's parity inputs."""
    if data is not None:
        encoded = encode_examples(bundle, load_examples(bundle, data, scored=False)).head(samples)
        return encoded.inputs, f"{encoded.name} (first {len(encoded)})"
    if bundle.manifest.parity_reference is None:
        raise BundleError(
            f"bundle {bundle.root} has no parity inputs to run", hint="pass --data FILE with real samples"
        )
    inputs, _ = load_reference(bundle.path(bundle.manifest.parity_reference))
    return {name: array[:samples] for name, array in inputs.items()}, "the bundle's parity inputs"


def _reference_layers(
    bundle: Bundle, against: str, inputs: dict[str, np.ndarray], options: DebugStep, scratch: Path
) -> Layers:
    if against != PYTORCH:
        reference = bundle.manifest.variant(against)
        assert reference is not None
        return variant_layers(bundle, reference, inputs, None, scratch)
    loaded = _pytorch_model(bundle, options)
    _check_same_model(bundle, loaded, options.model)
    return pytorch_layers(loaded.logits_module(), loaded.input_names, inputs)


def _check_same_model(bundle: Bundle, loaded: Any, model: str | None) -> None:
    """Refuse a PyTorch model whose logits on the bundle's parity inputs are not the ones it recorded."""
    from edgeship.export.parity import reference_logits

    if bundle.manifest.parity_reference is None:
        return
    inputs, recorded = load_reference(bundle.path(bundle.manifest.parity_reference))
    rows = min(len(recorded), SAME_MODEL_ROWS)
    logits = reference_logits(loaded, {name: array[:rows] for name, array in inputs.items()})
    difference = float(np.max(np.abs(logits - recorded[:rows])))
    if not difference <= SAME_MODEL_TOLERANCE:
        raise EdgeshipError(
            f"{model or bundle.manifest.source.model} is not the model {bundle.root} was exported from: its "
            f"logits on the bundle's parity inputs differ from the recorded ones by up to {difference:.3g}",
            hint="pass --model (and --checkpoint) with the exact model that was exported",
        )


def _pytorch_model(bundle: Bundle, options: DebugStep) -> Any:
    """The model the bundle was exported from: --model, else the manifest's source when it loads here."""
    from edgeship.sources.loading import load_model

    source = bundle.manifest.source
    spec = options.model or source.model
    try:
        return load_model(spec, checkpoint=options.checkpoint, task=source.task, labels=source.labels)
    except EdgeshipError as exc:
        if options.model:
            raise
        raise EdgeshipError(
            f"the bundle's source '{source.model}' does not load here ({exc.message})",
            hint="pass --model (and --checkpoint) with the model the bundle was exported from, "
            "or compare with --against fp32 / a variant",
        ) from exc


def compare_layers(
    captured: Layers, reference: Layers, *, named_by_reference: bool
) -> tuple[list[LayerError], list[str]]:
    """Every layer both sides have, in the reference's depth order when it is PyTorch, else the variant's;
    and the variant's layers that found no reference of their shape."""
    order = reference.order if named_by_reference else captured.order
    layers, unmatched = [], []
    for key in order:
        if key not in captured.arrays or key not in reference.arrays:
            continue
        output = matching_view(captured.arrays[key], reference.arrays[key])
        if output is None:
            unmatched.append(key)
            continue
        name = reference.tensors[key] if named_by_reference else key
        layers.append(
            layer_error(
                name, captured.tensors[key], output, reference.arrays[key], captured.quantization.get(key)
            )
        )
    return layers, unmatched


def _rows(inputs: dict[str, np.ndarray]) -> int:
    return len(next(iter(inputs.values())))
