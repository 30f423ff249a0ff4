"""The kit's model file: a TFLite or ONNX variant as it is, or an ONNX variant converted to ONNX Runtime's .ort."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeship.errors import BundleError, MissingDependencyError
from edgeship.manifest import Variant

ORT_CONFIG = "required_operators_and_types.config"


@dataclass(frozen=True)
class ArtifactKind:
    """How the kit gets one kind of artifact: which variant formats feed it and how it is written."""

    name: str
    runtime: str
    source_formats: tuple[str, ...]
    file_name: str
    write: Callable[[Path, Variant, Path], list[str]]
    """write(variant file, variant, kit dir) -> names of the files it put in the kit dir."""
    cannot_carry: tuple[str, ...] = ()
    """Quantized ops this artifact cannot hold: the .ort format has no int4 tensor type, which
    GatherBlockQuantized's 4-bit embedding tables use."""

    def carries(self, variant: Variant) -> bool:
        """Whether `variant` can become this artifact."""
        ops = variant.graph.quantized_ops if variant.graph else {}
        return variant.format in self.source_formats and not any(op in ops for op in self.cannot_carry)


def _copy(source: Path, variant: Variant, kit_dir: Path) -> list[str]:
    """An artifact already in the kit's format, copied as model.<suffix>."""
    name = f"model{source.suffix}"
    shutil.copyfile(source, kit_dir / name)
    return [name]


def _to_ort(source: Path, variant: Variant, kit_dir: Path) -> list[str]:
    """Convert with onnxruntime's tool (fixed optimizations for ARM, reduced-operator config with types)."""
    if variant.format == "ort":
        return _copy(source, variant, kit_dir)
    work = kit_dir / ".ort-conversion"
    work.mkdir()
    try:
        shutil.copyfile(source, work / "model.onnx")
        command = [
            sys.executable,
            "-m",
            "onnxruntime.tools.convert_onnx_models_to_ort",
            str(work / "model.onnx"),
        ]
        command += ["--output_dir", str(work / "out"), "--optimization_style", "Fixed"]
        command += ["--target_platform", "arm", "--enable_type_reduction"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not (work / "out" / "model.ort").is_file():
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise BundleError(
                f"onnxruntime could not convert {variant.id} to the .ort format: {last[0][:200]}",
                hint="pick another variant with --variant, or use --artifact tflite",
            )
        (work / "out" / "model.ort").replace(kit_dir / "model.ort")
        (work / "out" / f"model.{ORT_CONFIG}").replace(kit_dir / ORT_CONFIG)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ["model.ort", ORT_CONFIG]


ARTIFACTS: dict[str, ArtifactKind] = {
    "tflite": ArtifactKind("tflite", "LiteRT", ("tflite",), "model.tflite", _copy),
    "ort": ArtifactKind(
        "ort", "ONNX Runtime", ("ort", "onnx"), "model.ort", _to_ort, cannot_carry=("GatherBlockQuantized",)
    ),
    "onnx": ArtifactKind("onnx", "ONNX Runtime", ("onnx",), "model.onnx", _copy),
}


def artifact_tensors(path: Path, kind: ArtifactKind) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Input and output tensors as the artifact declares them: name, dtype, shape (None: dynamic)."""
    if kind.name == "tflite":
        return _tflite_tensors(path)
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def spec(node: Any, index: int) -> dict[str, Any]:
        dtype = node.type.removeprefix("tensor(").removesuffix(")").replace("float", "float32")
        shape = [dim if isinstance(dim, int) else None for dim in node.shape]
        return {"name": node.name, "index": index, "dtype": dtype, "shape": shape}

    inputs = [spec(node, i) for i, node in enumerate(session.get_inputs())]
    return inputs, [spec(node, i) for i, node in enumerate(session.get_outputs())]


def _tflite_tensors(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Signature names, with each tensor's position among the model's inputs (Swift addresses by index)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise MissingDependencyError(
            "reading a .tflite artifact needs ai-edge-litert", hint="pip install 'edgeship[tflite]'"
        ) from exc
    interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()

    def specs(signature: dict[str, Any], tensors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        order = [t["index"] for t in tensors]
        return [
            {
                "name": name,
                "tensor": detail["name"],
                "index": order.index(detail["index"]),
                "dtype": str(detail["dtype"].__name__),
                "shape": [int(d) if d >= 0 else None for d in detail["shape_signature"]],
            }
            for name, detail in signature.items()
        ]

    return (
        specs(runner.get_input_details(), interpreter.get_input_details()),
        specs(runner.get_output_details(), interpreter.get_output_details()),
    )
