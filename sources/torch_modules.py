"""Load a plain torch.nn.Module (an object, or `module.py:factory`) with a custom head for export."""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeship.errors import ModelLoadError, ModelNotFoundError, UnsupportedModelError
from edgeship.manifest import ImagePreprocessing, Task
from edgeship.sources.loading import LoadedModel
from edgeship.tasks.base import task_names

if TYPE_CHECKING:
    import torch

FACTORY_SPEC = re.compile(r"^(?P<file>.+\.py):(?P<factory>[A-Za-z_]\w*)$")
"""`path/to/module.py:build_model`: a Python file and the function in it that returns the module."""

IMAGENET_PREPROCESSING = ImagePreprocessing(
    size=(224, 224), resize_shorter_to=256, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
)
"""torchvision's ImageNet evaluation transform (Resize(256), CenterCrop(224), Normalize): images for a plain
module, which records no pre-processing of its own."""

UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
"""The class torch's weights-only unpickler refused, as its error names it."""

PROBE_LENGTH = 16
"""Tokens per row of the forward pass that checks the module and counts its outputs."""


@dataclass(frozen=True)
class TorchModuleConfig:
    """What export reads from an HF config, for a module that has none: token ids lie in [0, vocab_size)."""

    vocab_size: int


def is_factory_spec(spec: str) -> bool:
    """Whether `spec` names a factory function in a Python file (`module.py:build_model`)."""
    return FACTORY_SPEC.match(spec) is not None


def load_torch_module(
    spec: str | torch.nn.Module,
    *,
    checkpoint: Path | None,
    task: Task | None,
    labels: list[str] | None,
    tokenizer: Path | None,
) -> LoadedModel:
    """A plain module given as an object, or as `module.py:FACTORY` (the factory called with no arguments)."""
    if isinstance(spec, str):
        return load_factory_module(spec, checkpoint=checkpoint, task=task, labels=labels, tokenizer=tokenizer)
    return load_module_object(spec, checkpoint=checkpoint, task=task, labels=labels, tokenizer=tokenizer)


def load_factory_module(
    spec: str,
    *,
    checkpoint: Path | None,
    task: Task | None,
    labels: list[str] | None,
    tokenizer: Path | None,
) -> LoadedModel:
    """Import `module.py`, call its factory and load the checkpoint into the module it returns."""
    match = FACTORY_SPEC.match(spec)
    assert match is not None
    path, factory_name = Path(match["file"]).expanduser(), match["factory"]
    source = f"{path.name}:{factory_name}"
    task = _required_task(task, source)
    if not path.is_file():
        raise ModelNotFoundError(
            f"module file '{path}' does not exist",
            hint="pass path/to/module.py:FACTORY with an existing file",
        )
    factory = getattr(_import_file(path), factory_name, None)
    if not callable(factory):
        raise ModelNotFoundError(
            f"'{path.name}' has no function '{factory_name}'",
            hint=f"define `def {factory_name}() -> torch.nn.Module` in {path.name}, or name another one",
        )
    try:
        model = factory()
    except Exception as exc:  # user code raises anything
        raise ModelLoadError(
            f"{path.name}:{factory_name}() failed: {type(exc).__name__}: {_first_line(exc)}",
            hint="the factory is called with no arguments and must return a torch.nn.Module",
        ) from exc
    return load_module_object(
        model,
        checkpoint=checkpoint,
        task=task,
        labels=labels,
        tokenizer=tokenizer,
        source=source,
    )


def load_module_object(
    model: Any,
    *,
    checkpoint: Path | None,
    task: Task | None,
    labels: list[str] | None,
    tokenizer: Path | None,
    source: str | None = None,
) -> LoadedModel:
    """Describe a plain module for export: inputs, tokenizer or image pre-processing, and labels."""
    import torch

    name = source or f"torch:{type(model).__name__}"
    if not isinstance(model, torch.nn.Module):
        raise UnsupportedModelError(
            f"{name} returned a {type(model).__name__}, not a torch.nn.Module",
            hint="return the model itself (an nn.Module), not its weights or a wrapper",
        )
    task = _required_task(task, name)
    if checkpoint is not None:
        _load_weights(model, Path(checkpoint))
    model.eval()
    loaded = LoadedModel(
        model=model,
        framework="torch",
        architecture=type(model).__name__,
        model_type="torch",
        task=task,
        labels=[],
        source=name,
    )
    if loaded.modality == "text":
        loaded.tokenizer = _load_tokenizer(tokenizer, name)
        loaded.config = TorchModuleConfig(vocab_size=len(loaded.tokenizer))
        loaded.input_names = _text_input_names(model, loaded.tokenizer, name)
    else:
        loaded.image_preprocessing = IMAGENET_PREPROCESSING
        loaded.input_names = ["pixel_values"]
    loaded.labels = _labels(loaded, labels)
    return loaded


def _required_task(task: Task | None, name: str) -> Task:
    if task is None:
        raise UnsupportedModelError(
            f"{name} is a plain torch module: edgeship cannot tell its task",
            hint=f"pass --task, one of: {', '.join(task_names())}",
        )
    return task


def _import_file(path: Path) -> Any:
    """Import `path` as a module of its own (registered, so dataclasses and pickling inside it work)."""
    module_name = "edgeship_user_module_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import '{path}' as Python", hint="pass a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # user code raises anything
        sys.modules.pop(module_name, None)
        raise ModelLoadError(
            f"importing '{path.name}' failed: {type(exc).__name__}: {_first_line(exc)}",
            hint=f"run `python {path}` to see the full error",
        ) from exc
    return module


def _load_weights(model: torch.nn.Module, checkpoint: Path) -> None:
    """Load a safetensors or weights-only checkpoint strictly: every key present, every shape equal."""
    from edgeship.sources.timm_models import load_state_dict

    try:
        state = load_state_dict(checkpoint)
    except ModelLoadError as exc:
        if "weights only load failed" in str(exc.__cause__).lower():
            found = UNSUPPORTED_GLOBAL.search(str(exc.__cause__))
            held = found[1] if found else "Python objects"
            raise ModelLoadError(
                f"checkpoint '{checkpoint}' is a pickle that torch.load(weights_only=True) refuses "
                f"(it holds {held}, not only tensors)",
                hint="re-save only the weights: safetensors.torch.save_file(model.state_dict(), 'model.safetensors')",
            ) from exc
        raise
    if not isinstance(state, dict):
        raise ModelLoadError(
            f"checkpoint '{checkpoint}' holds a {type(state).__name__}, not a state_dict",
            hint="save model.state_dict() with safetensors",
        )
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    reshaped = [
        f"{key} {list(state[key].shape)} vs {list(value.shape)}"
        for key, value in expected.items()
        if key in state and hasattr(state[key], "shape") and tuple(state[key].shape) != tuple(value.shape)
    ]
    if missing or unexpected or reshaped:
        example = (reshaped or missing or unexpected)[0]
        raise ModelLoadError(
            f"checkpoint '{checkpoint}' does not fit {type(model).__name__}: {len(missing)} missing, "
            f"{len(unexpected)} unexpected and {len(reshaped)} mis-shaped keys (e.g. {example})",
            hint="save model.state_dict() of the module the factory builds, with the same sizes",
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(
            f"checkpoint '{checkpoint}' does not fit {type(model).__name__}: {_first_line(exc)}",
            hint="save model.state_dict() of the module the factory builds",
        ) from exc


def _load_tokenizer(directory: Path | None, name: str) -> Any:
    import transformers

    if directory is None:
        raise ModelLoadError(
            f"{name} is a text model with no tokenizer",
            hint="pass --tokenizer DIR (a directory written by tokenizer.save_pretrained)",
        )
    if not Path(directory).is_dir():
        raise ModelNotFoundError(
            f"tokenizer directory '{directory}' does not exist", hint="check --tokenizer"
        )
    try:
        return transformers.AutoTokenizer.from_pretrained(str(directory))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"'{directory}' holds no usable tokenizer: {_first_line(exc)}",
            hint="pass a directory written by tokenizer.save_pretrained(DIR)",
        ) from exc


def _text_input_names(model: torch.nn.Module, tokenizer: Any, name: str) -> list[str]:
    """The tokenizer's inputs that forward() takes, in forward's order (all of them for **kwargs)."""
    parameters = inspect.signature(model.forward).parameters
    offered = list(tokenizer.model_input_names)
    names = [parameter for parameter in parameters if parameter in offered]
    if not names and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        names = offered
    if not names:
        raise UnsupportedModelError(
            f"{name}.forward() takes none of the tokenizer's inputs ({', '.join(offered)})",
            hint="name forward's arguments after them, e.g. forward(self, input_ids, attention_mask)",
        )
    return names


def _labels(loaded: LoadedModel, labels: list[str] | None) -> list[str]:
    """The given labels, checked against the module's outputs (one forward pass), or LABEL_0..N-1."""
    import torch

    from edgeship.tasks.base import sample_inputs

    rows = sample_inputs(loaded, samples=1, max_length=PROBE_LENGTH)
    try:
        with torch.inference_mode():
            logits = loaded.logits_module()(*(torch.from_numpy(rows[key]) for key in loaded.input_names))
    except Exception as exc:  # user code raises anything
        raise UnsupportedModelError(
            f"{loaded.source} failed on a sample input ({', '.join(loaded.input_names)}): "
            f"{type(exc).__name__}: {_first_line(exc)}",
            hint="forward() must take the named inputs and return logits of shape [batch, labels]",
        ) from exc
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
        shape = list(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise UnsupportedModelError(
            f"{loaded.source} returns {shape}, not logits of shape [batch, labels]",
            hint="return one tensor (or an output with .logits) of shape [batch, number of labels]",
        )
    outputs = int(logits.shape[1])
    if labels and len(labels) != outputs:
        raise UnsupportedModelError(
            f"{loaded.source} has {outputs} outputs but {len(labels)} labels were given",
            hint=f"pass {outputs} names to --labels",
        )
    return list(labels) if labels else [f"LABEL_{index}" for index in range(outputs)]


def _first_line(exc: BaseException) -> str:
    return next((line for line in str(exc).splitlines() if line.strip()), "")[:200]
