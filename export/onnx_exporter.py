"""ONNX export: TorchScript-based torch.onnx.export, dynamic axes, ORT transformer graph fusions."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeship.errors import UnsupportedModelError, disk_error
from edgeship.export.archs import ArchConfig, arch_config
from edgeship.export.registry import ExportOptions, ExportResult, register_exporter
from edgeship.manifest import DType, GraphInfo, TensorSpec
from edgeship.runtimes.formats import get_format
from edgeship.tasks.base import get_task, sample_inputs

if TYPE_CHECKING:
    from edgeship.sources.loading import LoadedModel

FUSED_OP_TYPES = (
    "Attention",
    "MultiHeadAttention",
    "SkipLayerNormalization",
    "EmbedLayerNormalization",
    "BiasGelu",
    "FastGelu",
    "Gelu",
    "LayerNormalization",
)
ONNX_DTYPES: dict[int, DType] = {
    1: "float32",
    10: "float16",
    7: "int64",
    6: "int32",
    3: "int8",
    2: "uint8",
    9: "bool",
}


@register_exporter("onnx")
class OnnxExporter:
    """PyTorch -> ONNX with dynamic batch (and sequence) axes, then ORT's fusions where they apply."""

    format = "onnx"
    suffix = get_format(format).suffix

    def export(self, loaded: LoadedModel, destination: Path, options: ExportOptions) -> ExportResult:
        """Export, check and optimize `loaded` into `destination`."""
        import onnx
        import onnxruntime
        import torch

        arch = arch_config(loaded.model_type)
        opset = options.opset or arch.opset
        raw_path = destination.with_suffix(".raw.onnx")
        trace_length = options.max_length if arch.static_sequence else min(16, options.max_length)
        example = sample_inputs(loaded, samples=1 if arch.static_batch else 2, max_length=trace_length)
        args = tuple(torch.from_numpy(example[name]) for name in loaded.input_names)
        dynamic_axes = {name: _dynamic_axes(loaded.task, arch) for name in loaded.input_names}
        task = get_task(loaded.task)
        output_name = task.output_name
        batch_only = {} if arch.static_batch else {0: "batch"}
        dynamic_axes[output_name] = _dynamic_axes(loaded.task, arch) if task.per_token else batch_only
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(
                    loaded.logits_module(),
                    args,
                    str(raw_path),
                    input_names=list(loaded.input_names),
                    output_names=[output_name],
                    dynamic_axes=dynamic_axes,
                    opset_version=opset,
                    do_constant_folding=True,
                    dynamo=False,
                )
            except Exception as exc:  # the exporter raises many types for unsupported operators
                full_or_read_only = disk_error(exc)
                if full_or_read_only is not None:
                    raise full_or_read_only from exc
                raise UnsupportedModelError(
                    f"torch.onnx.export failed for {loaded.architecture}: {str(exc).splitlines()[0][:200]}",
                    hint=f"try another --opset (used {opset}) or report the architecture to edgeship",
                ) from exc
        _fix_static_output_dims(raw_path, output_name, dynamic_axes[output_name], loaded, args)
        onnx.checker.check_model(str(raw_path))
        optimizer = None
        if options.optimize and arch.ort_optimizer:
            optimizer = _optimize(raw_path, destination, arch.ort_optimizer, loaded.config)
        if optimizer is None:
            raw_path.replace(destination)
        raw_path.unlink(missing_ok=True)
        graph = onnx.load(str(destination), load_external_data=False).graph
        op_counts = {op: sum(1 for node in graph.node if node.op_type == op) for op in FUSED_OP_TYPES}
        return ExportResult(
            graph=GraphInfo(
                opset=opset,
                nodes=len(graph.node),
                optimizer=optimizer,
                fused_ops={op: count for op, count in op_counts.items() if count},
            ),
            inputs=[tensor_spec(value) for value in graph.input],
            outputs=[tensor_spec(value) for value in graph.output],
            options={"opset": opset, "optimize": options.optimize, "dynamic_axes": dynamic_axes},
            tools={
                "torch": torch.__version__,
                "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__,
            },
        )


def _fix_static_output_dims(
    path: Path, output_name: str, dynamic: dict[int, str], loaded: LoadedModel, args: tuple[Any, ...]
) -> None:
    """Give the output's fixed axes their sizes: the tracer names an axis it computed through a division
    (a mean pooling's) like a dynamic one, e.g. `Divsentence_embedding_dim_1` instead of 384."""
    import onnx
    import torch

    model = onnx.load(str(path), load_external_data=False)
    output = next(value for value in model.graph.output if value.name == output_name)
    dims = output.type.tensor_type.shape.dim
    if all(dim.dim_value or axis in dynamic for axis, dim in enumerate(dims)):
        return
    with torch.inference_mode():
        shape = loaded.logits_module()(*args).shape
    for axis, dim in enumerate(dims):
        if axis not in dynamic:
            dim.dim_value = int(shape[axis])
    onnx.save(model, str(path))


def _dynamic_axes(task: str, arch: ArchConfig) -> dict[int, str]:
    axes = {} if arch.static_batch else {0: "batch"}
    if get_task(task).modality == "text" and not arch.static_sequence:
        axes[1] = "sequence"
    return axes


def _optimize(source: Path, destination: Path, model_type: str, config: Any) -> str | None:
    """Apply ORT's offline transformer fusions (portable: no hardware-specific ORT passes)."""
    import logging

    from onnxruntime.transformers.optimizer import optimize_model

    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", 0)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimized = optimize_model(
                str(source), model_type=model_type, num_heads=heads, hidden_size=hidden, opt_level=0
            )
    except Exception as exc:  # the optimizer fails on graphs it does not recognise; keep the plain graph
        logging.getLogger(__name__).warning("onnxruntime optimizer skipped: %s", exc)
        return None
    optimized.save_model_to_file(str(destination))
    return f"onnxruntime.transformers:{model_type}"


def tensor_spec(value: Any) -> TensorSpec:
    """The TensorSpec of an ONNX graph input or output (named dims stay dynamic)."""
    tensor_type = value.type.tensor_type
    shape: list[int | str] = [dim.dim_param or dim.dim_value for dim in tensor_type.shape.dim]
    return TensorSpec(name=value.name, dtype=ONNX_DTYPES.get(tensor_type.elem_type, "float32"), shape=shape)
