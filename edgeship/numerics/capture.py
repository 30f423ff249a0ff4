"""One side of a comparison: the module outputs of a variant (run here or on a device) or of PyTorch."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeship.bundle import Bundle, sha256_of
from edgeship.devices.base import Device, Staged
from edgeship.errors import EdgeshipError
from edgeship.manifest import Variant
from edgeship.numerics.names import module_outputs, tflite_scope, torch_key
from edgeship.numerics.onnx_graph import expose_tensors, onnx_module_outputs
from edgeship.pipeline.push import bundle_folder, check_runnable
from edgeship.runtimes.agent import QUANTIZATION_KEY, capture_tensors, litert_interpreter


@dataclass
class Layers:
    """Module outputs by alignment key, in depth order, with the tensor each came from."""

    arrays: dict[str, np.ndarray]
    tensors: dict[str, str]
    quantization: dict[str, tuple[float, int, str]] = field(default_factory=dict)

    @property
    def order(self) -> list[str]:
        """Alignment keys in depth order."""
        return list(self.arrays)


def variant_layers(
    bundle: Bundle, variant: Variant, inputs: dict[str, np.ndarray], device: Device | None, scratch: Path
) -> Layers:
    """Run `variant` on each input row (on `device`, else here) and keep every module's output."""
    if variant.format not in ("onnx", "tflite"):
        raise EdgeshipError(
            f"debug reads ONNX and TFLite variants; '{variant.id}' is {variant.format}",
            hint="debug the ONNX variant it was made from",
        )
    model = bundle.verified_file(variant)
    names: list[str] | None = None
    if variant.format == "onnx":
        chosen, quantization = onnx_module_outputs(model)
        exposed = scratch / f"{variant.id}-exposed.onnx"
        expose_tensors(model, exposed, list(chosen.values()))
        model = exposed
    else:
        chosen = tflite_module_outputs(model)
        quantization = {}
        names = list(chosen.values())
    if device is None:
        tensors, found = capture_tensors(str(model), variant.format, inputs, names)
    else:
        tensors, found = _capture_on_device(bundle, variant, model, inputs, names, device, scratch)
    quantization = {**quantization, **{name: tuple(q) for name, q in found.items()}}
    present = {key: tensor for key, tensor in chosen.items() if tensor in tensors}
    return Layers(
        arrays={key: tensors[tensor] for key, tensor in present.items()},
        tensors=present,
        quantization={key: quantization[tensor] for key, tensor in present.items() if tensor in quantization},
    )


def tflite_module_outputs(model: Path) -> dict[str, str]:
    """Alignment key -> the LiteRT tensor that is that module's output, from the ops in execution order."""
    interpreter_class, _ = litert_interpreter()
    interpreter = interpreter_class(model_path=str(model))
    details = {d["index"]: d["name"] for d in interpreter.get_tensor_details()}
    produced = [details[i] for op in interpreter._get_ops_details() for i in op["outputs"] if i >= 0]
    return module_outputs(produced, {name: tflite_scope(name) for name in produced})


def _capture_on_device(
    bundle: Bundle,
    variant: Variant,
    model: Path,
    inputs: dict[str, np.ndarray],
    names: list[str] | None,
    device: Device,
    scratch: Path,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Stage the (exposed) model, the inputs and the names on the device, run the agent there, fetch."""

    check_runnable(device, device.probe(), [variant], bundle.manifest.source.task)

    folder = f"{bundle_folder(bundle)}/debug"
    np.savez(scratch / "inputs.npz", **inputs)  # type: ignore[arg-type]
    local = [model, scratch / "inputs.npz"]
    if names is not None:
        (scratch / "names.json").write_text(json.dumps(names), encoding="utf-8")
        local.append(scratch / "names.json")
    staged = [Staged(path, sha256_of(path), f"{folder}/{variant.id}-{path.name}") for path in local]
    locations = device.stage(staged)
    placed = [locations[item.relative] for item in staged]
    save_to = device.location(f"{folder}/{variant.id}-tensors.npz") if device.remote else None
    fetched = scratch / f"{variant.id}-tensors.npz"
    device.tensors(
        placed[0],
        placed[1],
        save_to or str(fetched),
        fetched,
        artifact_format=variant.format,
        names_file=placed[2] if names is not None else None,
    )
    with np.load(fetched, allow_pickle=False) as saved:
        tensors = {name: saved[name] for name in saved.files if name != QUANTIZATION_KEY}
        found = json.loads(str(saved[QUANTIZATION_KEY]))
    return tensors, found


def pytorch_layers(module: Any, input_names: list[str], inputs: dict[str, np.ndarray]) -> Layers:
    """Every module's output in PyTorch, keyed like the runtimes' tensors."""
    import torch

    from edgeship.numerics.torch_capture import torch_module_outputs

    outputs, order = torch_module_outputs(module, input_names, inputs)
    containers = {
        path
        for path, child in module.named_modules()
        if isinstance(child, torch.nn.ModuleList | torch.nn.ModuleDict)
    }
    arrays: dict[str, np.ndarray] = {}
    paths: dict[str, str] = {}
    for path in order:
        key = torch_key(path, containers)
        if key and key not in arrays:
            arrays[key], paths[key] = outputs[path], path
    return Layers(arrays=arrays, tensors=paths)
