"""Format descriptors: one per artifact format, read by the exporters, the quantizers and the agent."""

from __future__ import annotations

import pytest

from edgeship.compress.quantize.registry import get_quantizer
from edgeship.errors import EdgeshipError
from edgeship.export.registry import available_formats, get_exporter
from edgeship.runtimes import agent
from edgeship.runtimes.formats import FORMATS, get_format


def test_every_format_has_one_descriptor_the_agent_can_run() -> None:
    assert FORMATS.names() == sorted(agent.AGENT_FORMATS) == ["onnx", "ort", "tensorrt", "tflite"]
    for name in FORMATS.names():
        described = get_format(name)
        assert described.agent_runtime in {*agent.OPENERS, "tensorrt"}
        assert described.device_hint.startswith(f"install {described.runtimes[0]} on the device: ")
    assert get_format("tflite").runtimes == ("ai-edge-litert", "tflite-runtime")
    assert get_format("tensorrt").gpu_only and not get_format("onnx").gpu_only
    with pytest.raises(EdgeshipError, match="no descriptor for format 'mlir'"):
        get_format("mlir")


def test_exporters_and_quantizers_take_suffix_and_schemes_from_the_descriptor() -> None:
    for name in available_formats():
        assert get_exporter(name).suffix == get_format(name).suffix
    assert get_quantizer("tflite", "fp16").schemes == get_format("tflite").schemes
    with pytest.raises(EdgeshipError, match="scheme 'fp16' is not supported for onnx") as refused:
        get_quantizer("onnx", "fp16")
    assert refused.value.hint == f"choose one of: {', '.join(get_format('onnx').schemes)}"


def test_the_agent_is_told_the_format_and_never_guesses_it() -> None:
    with pytest.raises(SystemExit):
        agent.parser().parse_args(["bench", "--model", "m.onnx", "--inputs", "[]"])
    args = agent.parser().parse_args(["bench", "--format", "ort", "--model", "m.onnx", "--inputs", "[]"])
    assert (args.command, args.format) == ("bench", "ort")
    with pytest.raises(SystemExit, match="unknown format 'mlir'"):
        agent.benchmark("m.onnx", "mlir", {}, threads=1, runs=1, warmup=0)
