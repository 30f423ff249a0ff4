"""Load Hugging Face classifiers and sentence encoders (local directory or hub id)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from edgeship.errors import ModelLoadError, ModelNotFoundError, UnsupportedModelError
from edgeship.manifest import ImagePreprocessing, Task
from edgeship.sources.loading import LoadedModel
from edgeship.tasks.base import get_task, task_names


def load_hf_model(
    spec: str, *, task: Task | None, labels: list[str] | None, revision: str | None
) -> LoadedModel:
    """Load a classifier with `from_pretrained`, eager attention so ORT can fuse it."""
    import transformers

    # transformers imports torchao (a litert-torch dependency) when present; torch then logs warnings
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    config = _load_config(spec, revision)
    if task is not None:
        _check_head_serves(spec, config, task)
    task = task or _task_from_config(spec, config)
    embeds = task == "feature-extraction"
    if labels and not embeds:
        config.num_labels = len(labels)
        config.id2label = dict(enumerate(labels))
        config.label2id = {name: i for i, name in enumerate(labels)}
    auto_class: Any = getattr(transformers, f"AutoModel{get_task(task).hf_head.removeprefix('Model')}")
    try:
        model = auto_class.from_pretrained(
            spec, config=config, revision=revision, attn_implementation="eager"
        )
    except ValueError as exc:
        heads = ", ".join(config.architectures or [config.model_type])
        raise UnsupportedModelError(
            f"'{spec}' ({heads}) cannot serve {task}; it serves {', '.join(_servable_tasks(config))}",
            hint="pass one of those as --task, or a model made for " + task,
        ) from exc
    except (OSError, RuntimeError, Exception) as exc:  # safetensors/torch raise several types
        raise ModelLoadError(
            f"could not read the weights of '{spec}': {str(exc).splitlines()[0][:200]}",
            hint="the weight file is corrupt or truncated; re-download or re-save the model",
        ) from exc
    model.eval()
    label_names = [] if embeds else [str(config.id2label[i]) for i in range(config.num_labels)]
    loaded = LoadedModel(
        model=model,
        framework="transformers",
        architecture=type(model).__name__,
        model_type=config.model_type,
        task=task,
        labels=label_names,
        source=spec,
        config=config,
        revision=revision,
        pooling=sentence_pooling(spec) if embeds else None,
    )
    if loaded.modality == "text":
        loaded.tokenizer = _load_tokenizer(spec, revision)
        loaded.input_names = [n for n in loaded.tokenizer.model_input_names if n in _forward_arguments(model)]
    else:
        loaded.image_preprocessing = _image_preprocessing(spec, config, revision)
        loaded.input_names = ["pixel_values"]
    return loaded


def sentence_pooling(spec: str) -> str:
    """The pooling a sentence-transformers model directory declares (1_Pooling/config.json), else mean."""
    path = Path(spec) / "1_Pooling" / "config.json"
    if not path.is_file():
        return "mean"
    _check_json(path)
    declared = json.loads(path.read_bytes())
    if declared.get("pooling_mode_cls_token"):
        return "cls"
    if declared.get("pooling_mode_mean_tokens", True):
        return "mean"
    modes = sorted(key.removeprefix("pooling_mode_") for key, on in declared.items() if on is True)
    raise UnsupportedModelError(
        f"{path} asks for {' + '.join(modes)} pooling; edgeship exports mean and cls pooling",
        hint="re-save the model with mean or CLS pooling",
    )


def _load_config(spec: str, revision: str | None) -> Any:
    import transformers

    if Path(spec).is_dir() and not (Path(spec) / "config.json").is_file():
        raise ModelNotFoundError(
            f"'{spec}' is not a Hugging Face model directory (no config.json)",
            hint="pass a directory written by save_pretrained, a hub id or timm:NAME",
        )
    if Path(spec).is_file():
        raise ModelNotFoundError(
            f"'{spec}' is a file, not a model directory",
            hint="pass the directory that holds config.json, or a timm name with --checkpoint FILE",
        )
    if Path(spec).is_dir():
        _check_json(Path(spec) / "config.json")
    try:
        return transformers.AutoConfig.from_pretrained(spec, revision=revision)
    except OSError as exc:
        offline = (
            os.environ.get("HF_HUB_OFFLINE") == "1"
            or "offline" in str(exc).lower()
            or "connect" in str(exc).lower()
        )
        if offline:
            raise ModelNotFoundError(
                f"cannot download '{spec}' from the Hugging Face Hub: offline or unreachable",
                hint=f"on a machine with network run `hf download {spec} --local-dir DIR`, then pass DIR",
            ) from exc
        raise ModelNotFoundError(
            f"'{spec}' is neither a local directory nor a model on the Hugging Face Hub",
            hint="check the path or hub id (and --revision)",
        ) from exc
    except ValueError as exc:
        raise UnsupportedModelError(
            f"'{spec}': {str(exc).splitlines()[0][:200]}",
            hint="upgrade transformers or use a supported model",
        ) from exc


def _check_json(path: Path) -> None:
    """Refuse a config that is not JSON, saying where (transformers would call it a failed download)."""
    try:
        json.loads(path.read_bytes())
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ModelLoadError(
            f"{path} is not valid JSON: {exc}",
            hint="fix the file, or re-save the model with save_pretrained",
        ) from exc


def _servable_tasks(config: Any) -> list[str]:
    """The tasks a config's model can be loaded for: those of its modality (text has a vocabulary)."""
    modality = "text" if hasattr(config, "vocab_size") else "image"
    return [name for name in task_names() if get_task(name).modality == modality]


def _check_head_serves(spec: str, config: Any, task: str) -> None:
    """Refuse a model whose trained head is another task's (a tagger asked for question-answering):
    a new head on it would be untrained. Base encoders (no head) take any head; any encoder embeds."""
    wanted = get_task(task)
    if wanted.hf_head == "Model":
        return
    for architecture in config.architectures or []:
        served = [
            name
            for name in task_names()
            if get_task(name).hf_head != "Model" and architecture.endswith(get_task(name).hf_head)
        ]
        if served and task not in served:
            raise UnsupportedModelError(
                f"'{spec}' is a {architecture} model: its head serves {', '.join(served)}, not {task}",
                hint=f"pass --task {served[0]} (or feature-extraction), or a model with a *{wanted.hf_head} head",
            )


def _task_from_config(spec: str, config: Any) -> Task:
    """The task whose head class the config's architecture carries (e.g. *ForSequenceClassification)."""
    tasks = [get_task(name) for name in task_names()]
    for architecture in config.architectures or []:
        for task in tasks:
            if architecture.endswith(task.hf_head):
                return task.id
    found = ", ".join(config.architectures or ["none recorded"])
    heads = " and ".join(f"*{task.hf_head}" for task in tasks)
    raise UnsupportedModelError(
        f"'{spec}' is a {found} model; export supports {heads}",
        hint=f"pass --task ({', '.join(task_names())}) to add a new head (then fine-tune it)",
    )


def _load_tokenizer(spec: str, revision: str | None) -> Any:
    import transformers

    try:
        return transformers.AutoTokenizer.from_pretrained(spec, revision=revision)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"'{spec}' has no usable tokenizer: {str(exc).splitlines()[0][:200]}",
            hint="save the tokenizer next to the model (tokenizer.save_pretrained(DIR))",
        ) from exc


def _forward_arguments(model: Any) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


def _image_preprocessing(spec: str, config: Any, revision: str | None) -> ImagePreprocessing:
    import transformers

    try:
        processor = transformers.AutoImageProcessor.from_pretrained(spec, revision=revision)
    except (OSError, ValueError):
        processor = None
    size = getattr(config, "image_size", 224)
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    mean, std, shorter = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), height
    if processor is not None:
        mean = tuple(processor.image_mean)
        std = tuple(processor.image_std)
        crop = getattr(processor, "crop_size", None) if getattr(processor, "do_center_crop", False) else None
        resize = processor.size or {}
        if crop:
            height, width = crop["height"], crop["width"]
            shorter = resize.get("shortest_edge", max(height, width))
        elif "height" in resize:
            height, width = resize["height"], resize["width"]
            shorter = min(height, width)
    return ImagePreprocessing(
        size=(height, width), resize_shorter_to=shorter, mean=mean, std=std, interpolation="bilinear"
    )
