"""TensorRT without a GPU: shape profiles, Q/DQ graph checks, engine targets, and the CLI's refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeship.errors import UnsupportedModelError
from edgeship.export.tensorrt_config import check_buildable, optimization_profile
from edgeship.manifest import GpuTarget, TensorSpec, Variant, manifest_json_schema
from edgeship.runtimes.tensorrt_target import (
    EngineMismatchError,
    check_target,
    int4_supported,
    mismatch,
    missing_requirements,
)
from tests.conftest import run_cli

H100 = GpuTarget(gpu="NVIDIA H100 80GB HBM3", compute_capability="9.0", tensorrt="10.3.0")
ORIN = GpuTarget(gpu="Orin", compute_capability="8.7", tensorrt="10.3.0")


def test_profile_spans_batch_and_sequence_from_the_manifest_axes() -> None:
    text = [TensorSpec(name=n, dtype="int64", shape=["batch", "sequence"]) for n in ("input_ids", "mask")]
    profile = optimization_profile(text, max_length=128, max_batch=8)
    assert [(r.name, r.min, r.opt, r.max) for r in profile] == [
        ("input_ids", (1, 1), (1, 128), (8, 128)),
        ("mask", (1, 1), (1, 128), (8, 128)),
    ]
    image = [TensorSpec(name="pixel_values", dtype="float32", shape=["batch", 3, 224, 224])]
    (entry,) = optimization_profile(image, max_length=128, max_batch=4)
    assert (entry.min, entry.opt, entry.max) == ((1, 3, 224, 224), (1, 3, 224, 224), (4, 3, 224, 224))


def test_profile_refuses_an_empty_batch_range() -> None:
    with pytest.raises(UnsupportedModelError, match="max batch"):
        optimization_profile([TensorSpec(name="x", dtype="float32", shape=["batch", 4])], 16, 0)


def _graph(nodes: list, initializers: list, opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 32])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _qdq_int8(zero_point: np.ndarray) -> onnx.ModelProto:
    """x -> Q -> DQ -> MatMul(w): the shape of ONNX Runtime's static QDQ output."""
    weights = numpy_helper.from_array(np.ones((64, 32), np.float32), "w")
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "scale")
    zero = numpy_helper.from_array(zero_point, "zero")
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "scale", "zero"], ["xd"]),
        helper.make_node("MatMul", ["xd", "w"], ["y"]),
    ]
    return _graph(nodes, [weights, scale, zero])


def _int4(quant_format: str) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantFormat
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    weights = numpy_helper.from_array(
        np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32), "w"
    )
    model = _graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [weights])
    quantizer = MatMulNBitsQuantizer(
        model, bits=4, block_size=32, is_symmetric=True, quant_format=getattr(QuantFormat, quant_format)
    )
    quantizer.process()
    return quantizer.model.model


def test_symmetric_int8_and_block_int4_qdq_graphs_are_buildable() -> None:
    check_buildable(_qdq_int8(np.array(0, np.int8)), "int8")
    check_buildable(_int4("QDQ"), "int4")
    check_buildable(_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], []), "fp16")


@pytest.mark.parametrize(
    ("model", "precision", "message"),
    [
        (lambda: _qdq_int8(np.array(128, np.uint8)), "int8", "unsigned"),
        (lambda: _qdq_int8(np.array(3, np.int8)), "int8", "non-zero zero points"),
        (lambda: _graph([helper.make_node("MatMul", ["x", "w"], ["y"])], []), "int8", "no int8 Q/DQ"),
        (lambda: _int4("QOperator"), "int4", "MatMulNBits"),
        (
            lambda: _graph([helper.make_node("Attention", ["x"], ["y"], domain="com.microsoft")], []),
            "fp32",
            "contrib ops TensorRT cannot parse: Attention",
        ),
    ],
)
def test_graphs_tensorrt_cannot_build_are_refused_with_the_reason(
    model: object, precision: str, message: str
) -> None:
    with pytest.raises(UnsupportedModelError, match=message) as error:
        check_buildable(model(), precision)  # type: ignore[operator, arg-type]
    assert "--target-runtime tensorrt" in error.value.hint or "quantize" in error.value.hint


def test_missing_requirements_name_what_is_missing_and_what_to_install() -> None:
    assert missing_requirements(True, True) is None
    both = missing_requirements(False, False)
    assert both is not None and "missing here: TensorRT and a CUDA GPU" in both.message
    assert 'pip install "edgeship[tensorrt]"' in both.hint and "NVIDIA GPU" in both.hint
    gpu_only = missing_requirements(True, False)
    assert gpu_only is not None and gpu_only.message.endswith("missing here: a CUDA GPU")
    assert "pip install" not in gpu_only.hint


def test_an_engine_runs_only_on_its_compute_capability_and_tensorrt_version() -> None:
    same_arch = GpuTarget(gpu="NVIDIA H100 PCIe", compute_capability="9.0", tensorrt="10.3.0")
    assert mismatch(H100, same_arch) is None
    assert (
        mismatch(H100, ORIN) == "GPU compute capability 9.0 (NVIDIA H100 80GB HBM3), this one is 8.7 (Orin)"
    )
    newer = H100.model_copy(update={"tensorrt": "10.7.0"})
    assert mismatch(H100, newer) == "TensorRT 10.3.0, this one has 10.7.0"
    with pytest.raises(EngineMismatchError) as error:
        check_target("tensorrt-fp16.engine", H100, ORIN)
    assert "\n" not in error.value.one_line() and "rebuild it here" in error.value.one_line()
    check_target("tensorrt-fp16.engine", None, ORIN)


def test_int4_needs_tensorrt_10() -> None:
    assert int4_supported("10.0.1") and int4_supported("10.7.0.23")
    assert not int4_supported("8.6.2") and not int4_supported("unknown")


def test_manifest_records_the_engine_target() -> None:
    variant = Variant.model_validate(
        {
            "id": "tensorrt-fp16",
            "format": "tensorrt",
            "precision": "fp16",
            "file": "models/tensorrt-fp16.engine",
            "bytes": 1,
            "sha256": "0" * 64,
            "produced_by": {"step": "export", "tools": {"tensorrt": "10.3.0"}},
            "built_for": H100.model_dump(),
        }
    )
    assert Variant.model_validate_json(variant.model_dump_json()).built_for == H100
    assert "GpuTarget" in manifest_json_schema()["$defs"]
    with pytest.raises(ValueError, match="compute_capability"):
        GpuTarget(gpu="x", compute_capability="sm90", tensorrt="10")


def _fake_tensorrt(tmp_path: Path) -> dict[str, str]:
    """A `tensorrt` package that imports: what a machine with TensorRT but no GPU looks like to edgeship."""
    package = tmp_path / "fake" / "tensorrt"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('__version__ = "10.3.0"\n')
    return {"PYTHONPATH": str(package.parent), "CUDA_VISIBLE_DEVICES": ""}


@pytest.mark.parametrize("with_tensorrt", [False, True], ids=["no-tensorrt", "no-gpu"])
def test_export_refuses_in_one_line_and_writes_nothing(
    bert_dir: Path, tmp_path: Path, with_tensorrt: bool
) -> None:
    out = tmp_path / "bundle"
    env = _fake_tensorrt(tmp_path) if with_tensorrt else {"CUDA_VISIBLE_DEVICES": ""}
    result = run_cli("export", str(bert_dir), "--format", "tensorrt", "--out", str(out), env=env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    if with_tensorrt:
        assert "missing here: a CUDA GPU" in lines[0] and "pip install" not in lines[0]
    else:
        assert "TensorRT" in lines[0] and 'pip install "edgeship[tensorrt]"' in lines[0]
    assert not out.exists()


def test_int8_engines_need_a_bundle_with_a_qdq_variant(bert_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "new"
    result = run_cli("export", str(bert_dir), "-f", "tensorrt", "--precision", "int8", "--out", str(out))
    assert result.returncode != 0
    assert "onnx-int8-static-tensorrt" in result.stderr and "--target-runtime tensorrt" in result.stderr
    assert not out.exists()


def test_onnx_export_refuses_reduced_precision(bert_dir: Path, tmp_path: Path) -> None:
    result = run_cli("export", str(bert_dir), "--precision", "fp16", "--out", str(tmp_path / "b"))
    assert result.returncode != 0
    assert "--format onnx writes fp32, not --precision fp16" in result.stderr
    assert "edgeship quantize" in result.stderr


def test_quantize_for_tensorrt_writes_graphs_tensorrt_can_build(
    bert_dir: Path, tmp_path: Path, text_csv: Path
) -> None:
    out = tmp_path / "bundle"
    exported = run_cli("export", str(bert_dir), "--out", str(out), "--max-length", "16", "--no-optimize")
    assert exported.returncode == 0, exported.stderr
    quantized = run_cli(
        "quantize", str(out), "--scheme", "int8-static,int4-weight", "--format", "onnx", "--calibration-data",
        str(text_csv), "--calibration-samples", "8", "--target-cpu", "x86", "--target-runtime", "tensorrt",
    )  # fmt: skip
    assert quantized.returncode == 0, quantized.stderr
    check_buildable(onnx.load(str(out / "models" / "onnx-int8-static-tensorrt.onnx")), "int8")
    check_buildable(onnx.load(str(out / "models" / "onnx-int4-weight-tensorrt.onnx")), "int4")
