"""The user's devices: a YAML file in $EDGESHIP_CONFIG_DIR or ~/.config/edgeship (devices.yaml)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from edgeship.bundle import write_text_atomic
from edgeship.errors import DeviceError
from edgeship.options import cli

BUILTIN_DEVICES = {
    "local": ("local", "local"),
    "local-gpu": ("local", "local-gpu"),
    "qemu-a72": ("qemu", "qemu-a72"),
    "qemu-a72-icount": ("qemu-icount", "qemu-a72-icount"),
    "browser": ("browser", "browser"),
}
"""Devices that need no configuration: name -> (transport, profile)."""

SSH_TARGET = re.compile(
    r"^(?P<user>[^@\s]+)@(?:\[(?P<ipv6>[0-9a-fA-F:]+)\]|(?P<host>[^:@\s\[\]]+))(?::(?P<port>\d+))?$"
)


def _port_in_range(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is not in the range 1-65535")
    return port


class DeviceEntry(BaseModel):
    """One configured device, as stored in devices.yaml."""

    model_config = ConfigDict(extra="forbid")

    transport: Literal["ssh"] = "ssh"
    user: str = Field(json_schema_extra=cli("--ssh"))
    host: str = Field(json_schema_extra=cli("--ssh"))
    port: Annotated[int, AfterValidator(_port_in_range)] = Field(default=22, json_schema_extra=cli("--ssh"))
    profile: str
    key: str | None = Field(default=None, description="Private key file; default: ~/.ssh keys and the agent.")
    known_hosts: str | None = Field(default=None, description="Default: ~/.ssh/known_hosts.")
    python: str = Field(default="python3", description="Command line that starts Python on the device.")
    workdir: str = Field(
        default=".edgeship", description="Folder for the agent and bundles, relative to home."
    )
    timeout: float = Field(
        default=1800,
        gt=0,
        allow_inf_nan=False,
        description="Seconds any one remote command may take, and connecting (all retries) too.",
    )

    @property
    def address(self) -> str:
        """user@host:port as typed."""
        return f"{self.user}@{self.endpoint}"

    @property
    def endpoint(self) -> str:
        """host:port ([host]:port for IPv6), for messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_ssh_target(target: str) -> tuple[str, str, int]:
    """user@host[:port] (IPv6 as user@[addr]:port) -> (user, host, port)."""
    match = SSH_TARGET.match(target)
    if not match:
        raise DeviceError(f"'{target}' is not an SSH target", hint="write it as user@host or user@host:port")
    return match["user"], match["ipv6"] or match["host"], int(match["port"] or 22)


def config_file() -> Path:
    """Where the user's devices are stored."""
    folder = os.environ.get("EDGESHIP_CONFIG_DIR") or Path.home() / ".config" / "edgeship"
    return Path(folder) / "devices.yaml"


def load_devices() -> dict[str, DeviceEntry]:
    """Every configured device, by name (empty when there is no config file yet)."""
    import yaml

    path = config_file()
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return {name: DeviceEntry.model_validate(entry) for name, entry in (raw.get("devices") or {}).items()}
    except (yaml.YAMLError, AttributeError) as exc:
        raise DeviceError(f"{path} is not a devices file ({exc})", hint="fix or delete it") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise DeviceError(f"{path}: field '{field}': {first['msg']}", hint="fix or delete the entry") from exc


def save_devices(devices: dict[str, DeviceEntry]) -> None:
    """Write the devices file atomically."""
    import yaml

    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = {name: entry.model_dump(exclude_defaults=True) for name, entry in sorted(devices.items())}
    write_text_atomic(path, yaml.safe_dump({"devices": entries}, sort_keys=False))


def add_device(name: str, entry: DeviceEntry, replace: bool = False) -> None:
    """Store a device under `name`."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise DeviceError(f"'{name}' is not a device name", hint="use letters, digits, '.', '_' and '-'")
    if name in BUILTIN_DEVICES:
        raise DeviceError(f"'{name}' is a built-in device", hint="choose another name")
    devices = load_devices()
    if name in devices and not replace:
        raise DeviceError(f"device '{name}' already exists", hint="pass --replace, or remove it first")
    devices[name] = entry
    save_devices(devices)


def remove_device(name: str) -> None:
    """Forget the device called `name`."""
    devices = load_devices()
    if name not in devices:
        raise DeviceError(f"no device '{name}' in {config_file()}", hint="see `edgeship devices list`")
    del devices[name]
    save_devices(devices)
