"""TFLite (LiteRT) export with litert-torch: static shapes, named I/O, builtin ops only."""

from __future__ import annotations

import logging
import re
import warnings
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeship.errors import BundleError, MissingDependencyError, UnsupportedModelError
from edgeship.export.registry import ExportOptions, ExportResult, register_exporter
from edgeship.manifest import GraphInfo, TensorSpec
from edgeship.runtimes.formats import get_format
from edgeship.runtimes.native_stderr import silenced_native_stderr
from edgeship.runtimes.tflite_graph import compute_op_counts, custom_ops, read_operators, read_signature
from edgeship.tasks.base import get_task, sample_inputs

if TYPE_CHECKING:
    from edgeship.sources.loading import LoadedModel

FLEX_HINT = (
    "LiteRT builtin ops only: the Flex (Select TF ops) delegate is rarely shippable in apps; "
    "replace the op in the model or export with --format onnx"
)
MISSING_LOWERING = re.compile(r"Lowering not found: (aten\.[\w.]+)")
MISSING_KERNEL = re.compile(r"(?:builtin opcode|custom op:?) '?([\w.]+)'?")


@register_exporter("tflite")
class TfliteExporter:
    """PyTorch -> .tflite through torch.export and litert-torch (no TensorFlow), batch 1, static shapes.

    Text models take int32 `input_ids`/`attention_mask` (`token_type_ids`) of shape [1, max_length];
    image models take float32 `pixel_values` of shape [1, 3, H, W]; the output is the task's (`logits`,
    `sentence_embedding`).
    """

    format = "tflite"
    suffix = get_format(format).suffix

    def export(self, loaded: LoadedModel, destination: Path, options: ExportOptions) -> ExportResult:
        """Convert `loaded` into `destination`; refuse graphs that need non-builtin ops."""
        import torch

        litert_torch = _litert_torch()
        example = sample_inputs(loaded, samples=1, max_length=options.max_length)
        kwargs = {
            name: torch.from_numpy(array.astype("int32") if array.dtype.kind == "i" else array)
            for name, array in example.items()
        }
        module = _named_output(loaded.logits_module(), loaded.input_names, get_task(loaded.task).output_name)
        try:
            with silenced_native_stderr(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                edge_model = litert_torch.convert(module, (), kwargs)
                edge_model.export(str(destination))
        except Exception as exc:  # torch.export and the lowering raise many types
            raise _conversion_error(loaded, exc) from exc
        operators = read_operators(destination)
        non_builtin = custom_ops(operators)
        if non_builtin:
            destination.unlink()
            raise UnsupportedModelError(
                f"{loaded.architecture} needs ops that are not LiteRT builtins: {', '.join(non_builtin)}",
                hint=FLEX_HINT,
            )
        inputs, outputs = _signature(destination, loaded)
        return ExportResult(
            graph=GraphInfo(
                nodes=len(operators), optimizer="litert-torch", fused_ops=compute_op_counts(operators)
            ),
            inputs=inputs,
            outputs=outputs,
            options={"static_shapes": True, "batch": 1, **_shape_options(loaded, inputs)},
            tools={
                "torch": torch.__version__,
                "litert-torch": metadata.version("litert-torch"),
                "ai-edge-litert": metadata.version("ai-edge-litert"),
            },
        )


def _litert_torch() -> Any:
    """Import litert-torch quietly (no progress lines, no torch pytree deprecation warnings)."""
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    try:
        with silenced_native_stderr():
            import litert_torch
    except ImportError as exc:
        raise MissingDependencyError(
            "TFLite export needs litert-torch, which is not installed",
            hint="pip install 'edgeship[tflite]'",
        ) from exc
    litert_torch.config.show_progress = False
    return litert_torch


def _named_output(output_module: Any, input_names: list[str], output_name: str) -> Any:
    """Wrap the task's output module to take inputs by name and return {output_name: ...}: the
    signature's names."""
    import torch

    class NamedOutput(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.logits_module = output_module  # the name TFLite tensors carry (see numerics/names.py)

        def forward(self, **inputs: torch.Tensor) -> dict[str, torch.Tensor]:
            return {output_name: self.logits_module(*(inputs[name] for name in input_names))}

    return NamedOutput().eval()


def _conversion_error(loaded: LoadedModel, exc: Exception) -> UnsupportedModelError:
    """Name the PyTorch op that has no LiteRT builtin lowering, when that is what failed."""
    text = str(exc)
    missing = sorted(set(MISSING_LOWERING.findall(text)))
    if missing:
        return UnsupportedModelError(
            f"{loaded.architecture} uses {', '.join(missing)}, which has no LiteRT builtin op", hint=FLEX_HINT
        )
    first_line = next((line for line in text.splitlines() if line.strip()), type(exc).__name__)
    return UnsupportedModelError(
        f"litert-torch could not convert {loaded.architecture}: {first_line[:200]}",
        hint="export with --format onnx, or report the architecture to edgeship",
    )


def _signature(path: Path, loaded: LoadedModel) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The artifact's input and output specs as LiteRT reads them (this also proves it loads)."""
    try:
        return read_signature(path, loaded.input_names)
    except BundleError as exc:
        path.unlink()
        ops = sorted(set(MISSING_KERNEL.findall(str(exc.__cause__))))
        raise UnsupportedModelError(
            f"{loaded.architecture} converts to ops LiteRT has no kernel for: {', '.join(ops) or exc.message}",
            hint=FLEX_HINT,
        ) from exc


def _shape_options(loaded: LoadedModel, inputs: list[TensorSpec]) -> dict[str, Any]:
    shape = inputs[0].shape
    if loaded.modality == "text":
        return {"max_length": shape[1], "input_dtype": inputs[0].dtype}
    return {"image_size": shape[2:]}
