"""Load timm image classifiers from a checkpoint (safetensors or weights-only torch file) or the hub."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeship.errors import MissingDependencyError, ModelLoadError, ModelNotFoundError
from edgeship.manifest import ImagePreprocessing
from edgeship.sources.loading import LoadedModel

CONFIG_FILE = "config.json"
"""timm's hub config beside a checkpoint: `model_args`, `pretrained_cfg` (input size, mean, std) and `label_names`."""


def load_timm_model(name: str, *, checkpoint: Path | None, labels: list[str] | None) -> LoadedModel:
    """Create timm model `name` with the checkpoint's weights (or timm's pretrained weights)."""
    timm = _import_timm()
    if not timm.is_model(name):
        close = timm.list_models(f"*{name[:12]}*")[:5]
        raise ModelNotFoundError(
            f"'{name}' is not a timm model",
            hint=f"did you mean {', '.join(close)}?" if close else "see timm.list_models() for names",
        )
    if checkpoint is None:
        model = _create_pretrained(timm, name)
    else:
        state = load_state_dict(Path(checkpoint))
        config = checkpoint_config(Path(checkpoint))
        pretrained_cfg = timm.models.get_pretrained_cfg(name)
        num_classes = _num_classes(state, pretrained_cfg.classifier if pretrained_cfg else None)
        model = timm.create_model(
            name,
            pretrained=False,
            num_classes=num_classes,
            pretrained_cfg_overlay=config.get("pretrained_cfg"),
            **config.get("model_args", {}),
        )
        labels = labels or config.get("label_names")
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelLoadError(
                f"checkpoint '{checkpoint}' does not fit timm model '{name}': {str(exc).splitlines()[1][:200]}",
                hint="pass the timm name the checkpoint was trained with",
            ) from exc
    model.eval()
    return LoadedModel(
        model=model,
        framework="timm",
        architecture=name,
        model_type=name,
        task="image-classification",
        labels=labels or _default_labels(model.num_classes),
        source=f"timm:{name}" if checkpoint is None else f"timm:{name}@{checkpoint}",
        image_preprocessing=_image_preprocessing(timm, model),
        input_names=["pixel_values"],
    )


def load_state_dict(path: Path) -> dict[str, Any]:
    """Read weights safely: safetensors, or a torch file with weights_only=True (never a pickle)."""
    import torch

    if not path.is_file():
        raise ModelNotFoundError(f"checkpoint '{path}' does not exist", hint="check the --checkpoint path")
    state: Any
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # safetensors and torch raise many types for a damaged file
        raise ModelLoadError(
            f"could not read checkpoint '{path}': {str(exc).splitlines()[0][:200]}",
            hint="the file is corrupt, truncated or not a weights-only checkpoint; re-save it with safetensors",
        ) from exc
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def checkpoint_config(checkpoint: Path) -> dict[str, Any]:
    """The timm-format `config.json` next to `checkpoint` (empty when there is none)."""
    path = checkpoint.parent / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(
            f"cannot read '{path}' beside the checkpoint: {exc}",
            hint="fix or remove it; it holds timm's model_args, pretrained_cfg and label_names",
        ) from exc
    if not isinstance(config, dict):
        raise ModelLoadError(f"'{path}' is not a JSON object", hint="fix or remove it")
    return config


def _import_timm() -> Any:
    try:
        import timm
    except ImportError as exc:
        raise MissingDependencyError(
            "timm is not installed", hint="pip install 'edgeship[vision]' for timm models"
        ) from exc
    return timm


def _create_pretrained(timm: Any, name: str) -> Any:
    try:
        return timm.create_model(name, pretrained=True)
    except Exception as exc:  # hub errors surface as several exception types
        raise ModelNotFoundError(
            f"cannot download pretrained weights for timm model '{name}': offline or unreachable",
            hint="pass local weights with --checkpoint FILE (.safetensors or weights-only .pth)",
        ) from exc


def _num_classes(state: dict[str, Any], classifier: str | tuple[str, ...] | None) -> int:
    names = [classifier] if isinstance(classifier, str) else list(classifier or [])
    for name in names:
        weight = state.get(f"{name}.weight")
        if weight is not None:
            return int(weight.shape[0])
    raise ModelLoadError(
        "cannot find the classifier weights in the checkpoint",
        hint="save the full model state_dict (model.state_dict()) with safetensors",
    )


def _default_labels(num_classes: int) -> list[str]:
    if num_classes == 1000:
        from timm.data import ImageNetInfo

        info = ImageNetInfo()
        return [info.index_to_description(i) for i in range(1000)]
    return [f"class_{i}" for i in range(num_classes)]


def _image_preprocessing(timm: Any, model: Any) -> ImagePreprocessing:
    config = timm.data.resolve_data_config({}, model=model)
    _, height, width = config["input_size"]
    crop_pct = config.get("crop_pct") or 1.0
    interpolation = config.get("interpolation", "bilinear")
    return ImagePreprocessing(
        size=(height, width),
        resize_shorter_to=int(round(min(height, width) / crop_pct)),
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        interpolation=interpolation if interpolation in ("bilinear", "bicubic", "nearest") else "bilinear",
    )
