"""Every module's output in PyTorch, by forward hooks, on the rows the runtimes see."""

from __future__ import annotations

from typing import Any

import numpy as np


def torch_module_outputs(
    module: Any, input_names: list[str], inputs: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Module path -> its output stacked over the rows (each row run alone), and the paths in the order
    the modules finished (depth order)."""
    import torch

    captured: dict[str, list[np.ndarray]] = {}
    order: list[str] = []

    def hook(name: str) -> Any:
        def record(_module: Any, _inputs: Any, output: Any) -> None:
            tensor = _first_tensor(output)
            if tensor is None:
                return
            if name not in captured:
                captured[name] = []
                order.append(name)
            captured[name].append(tensor.detach().float().numpy().copy())

        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in module.named_modules() if name]
    rows = len(next(iter(inputs.values())))
    try:
        with torch.inference_mode():
            for row in range(rows):
                module(*(torch.from_numpy(inputs[name][row : row + 1]) for name in input_names))
    finally:
        for handle in handles:
            handle.remove()
    complete = [name for name in order if len(captured[name]) == rows]  # modules called once per row
    return {name: np.concatenate(captured[name]) for name in complete}, complete


def _first_tensor(output: Any) -> Any:
    """A module's output tensor: itself, the first of a tuple, or the first value of a model output."""
    import torch

    if isinstance(output, torch.Tensor):
        return output if output.is_floating_point() else None
    values = (
        output.values() if isinstance(output, dict) else output if isinstance(output, tuple | list) else ()
    )
    return next((_first_tensor(value) for value in values if _first_tensor(value) is not None), None)
