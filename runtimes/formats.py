"""Artifact formats: one descriptor each, declared next to the host session that opens it.

A descriptor is the one place that says a format's file suffix, the runtime packages that run it, the
quantization schemes that apply to it, whether it needs a GPU and how to install its runtime. Exporters,
quantization backends, device checks and the agent's command line read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeship.registry import Registry
from edgeship.runtimes.agent import AGENT_FORMATS


@dataclass(frozen=True)
class Format:
    """One artifact format (`onnx`, `ort`, `tflite`, `tensorrt`)."""

    id: str
    suffix: str
    """The file suffix its artifacts carry, e.g. `.onnx`."""
    runtimes: tuple[str, ...]
    """Runtime packages that run it, preferred first, named as the agent's probe reports them."""
    install_hint: str
    """How to install the preferred runtime on a device."""
    schemes: tuple[str, ...] = ()
    """Quantization schemes a backend applies to it (none: it is only ever exported)."""
    gpu_only: bool = False
    """Whether it runs only on an NVIDIA GPU (then a device check needs the GPU, not just a package)."""

    @property
    def runtime(self) -> str:
        """The preferred runtime package."""
        return self.runtimes[0]

    @property
    def device_hint(self) -> str:
        """What to do on a device that lacks the runtime."""
        return f"install {self.runtime} on the device: {self.install_hint}"

    @property
    def agent_runtime(self) -> str:
        """The agent's runtime for it: the `runtime` its benchmark results report."""
        return AGENT_FORMATS[self.id]


FORMATS: Registry[Format] = Registry("descriptor", "edgeship.runtimes", "_session")


def register_format(artifact_format: Format) -> Format:
    """Register a descriptor (declared once, in the module of the session that opens the format)."""
    if artifact_format.id not in AGENT_FORMATS:
        raise ValueError(f"the agent has no runtime for format '{artifact_format.id}' (AGENT_FORMATS)")
    FORMATS.add(artifact_format.id, artifact_format)
    return artifact_format


def get_format(artifact_format: str) -> Format:
    """The descriptor of `artifact_format`, or an error listing the formats there are."""
    return FORMATS.get(artifact_format)
