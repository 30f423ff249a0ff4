"""Which runtime tensor is which PyTorch module's output: read from the scopes the exporters leave in names.

torch.onnx.export names tensors `/model/bert/encoder/layer.0/attention/output/LayerNorm/Add_output_0` (the
called modules, each by its name in the module that called it, then the op); ORT's fusions and quantizers keep
those names on the tensors they produce. litert-torch names tensors by class and attribute,
`.../BertLayer_0/BertOutput_output/LayerNorm_LayerNorm;5`. Neither names a ModuleList or ModuleDict (never
called), so the alignment key is the path of called modules: `model.bert.encoder.0.attention` for PyTorch's
`model.bert.encoder.layer.0.attention`, without edgeship's own export wrappers.
"""

from __future__ import annotations

from collections.abc import Iterable

WRAPPER_ATTRIBUTES = ("logits_module",)
"""Attributes of edgeship's own export wrappers (the TFLite signature's NamedLogits), not of the model."""
DEQUANTIZED_SUFFIX = "_DequantizeLinear_Output"


def alignment_key(path: str) -> str:
    """A path of called modules without edgeship's export wrappers (`logits_module.model.x` -> `model.x`)."""
    parts = [part for part in path.split(".") if part]
    while parts and parts[0] in WRAPPER_ATTRIBUTES:
        parts.pop(0)
    return ".".join(parts)


def torch_key(path: str, containers: set[str]) -> str:
    """The alignment key of a PyTorch module path: the never-called containers (`containers`: the paths of
    ModuleLists and ModuleDicts) left out, `model.bert.encoder.layer.0` -> `model.bert.encoder.0`."""
    parts = path.split(".")
    called = [part for depth, part in enumerate(parts) if ".".join(parts[: depth + 1]) not in containers]
    return alignment_key(".".join(called))


def onnx_scope(tensor: str) -> str | None:
    """The called-module path in a torch.onnx.export tensor name (a `layer.0` scope counts as `0`), or
    None for a name without one."""
    name = tensor.removesuffix(DEQUANTIZED_SUFFIX)
    if not name.startswith("/") or name.count("/") < 2:
        return None
    return ".".join(part.rsplit(".", 1)[-1] for part in name.split("/")[1:-1])


def tflite_scope(tensor: str) -> str | None:
    """The called-module path in a litert-torch tensor name (one location only), or None."""
    if ";;" in tensor or "/" not in tensor:
        return None
    attributes = []
    for segment in tensor.split(";")[0].split("/")[1:]:
        last = segment.rsplit(".", 1)[-1]
        if "_" not in last:
            return None
        attributes.append(last.split("_", 1)[1])
    return ".".join(attributes) or None


def module_outputs(tensors: Iterable[str], scope_of: dict[str, str | None]) -> dict[str, str]:
    """Alignment key -> the last tensor (in execution order) produced inside that module or its children:
    its output. Keys come in the order of those tensors (depth); a tensor that ends several nested modules
    is kept for the innermost only."""
    last: dict[str, str] = {}
    for tensor in tensors:
        scope = scope_of.get(tensor)
        if not scope:
            continue
        parts = alignment_key(scope).split(".")
        for depth in range(len(parts), 0, -1):
            key = ".".join(parts[:depth])
            last.pop(key, None)
            last[key] = tensor
    innermost: dict[str, str] = {}
    for key, tensor in last.items():
        if tensor not in innermost.values():
            innermost[key] = tensor
    return innermost
