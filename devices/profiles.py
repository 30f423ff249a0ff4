"""Device profiles: what a target is (CPU, cores, ISA, runtimes), as YAML data in devices/profiles/."""

from __future__ import annotations

from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgeship.errors import DeviceError


class DeviceProfile(BaseModel):
    """One kind of device; a new board is one new YAML file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str
    arch: str = Field(description="Machine architecture as `uname -m` reports it, or `host`.")
    cpu: str = Field(description="Core type, e.g. Cortex-A72, or `host`.")
    cores: int | None = Field(default=None, gt=0)
    ghz: float | None = Field(default=None, gt=0)
    isa: str | None = None
    features: list[str] = Field(default_factory=list)
    dotprod: bool = Field(default=False, description="Armv8.2 SDOT/UDOT (int8 dot product) available.")
    fp16_math: bool = False
    memory_gb: float | None = Field(default=None, gt=0)
    gpu: str | None = Field(default=None, description="NVIDIA GPU, for TensorRT engines, e.g. Ampere sm 8.7.")
    peak_gflops_fp32: float | None = Field(default=None, gt=0)
    emulated: bool = Field(default=False, description="Timings come from an emulator, not the hardware.")
    runtimes: list[str] = Field(default_factory=list, description="Runtimes to install on the device.")


@cache
def profiles() -> dict[str, DeviceProfile]:
    """Every profile shipped with edgeship, by name."""
    import yaml

    found = {}
    for entry in sorted(resources.files("edgeship.devices").joinpath("profiles").iterdir(), key=str):
        if not entry.name.endswith(".yaml"):
            continue
        try:
            profile = DeviceProfile.model_validate(yaml.safe_load(entry.read_text(encoding="utf-8")))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            raise DeviceError(f"device profile {entry.name}: field '{field}': {first['msg']}") from exc
        found[profile.name] = profile
    return found


def get_profile(name: str) -> DeviceProfile:
    """The profile called `name`, or an error listing the known ones."""
    known = profiles()
    if name not in known:
        raise DeviceError(f"unknown device profile '{name}'", hint=f"choose one of: {', '.join(known)}")
    return known[name]
