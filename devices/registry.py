"""Device lookup by name: the built-in ones (local, qemu-a72) and those in the user's devices file."""

from __future__ import annotations

from edgeship.devices.base import TRANSPORTS, Device
from edgeship.devices.config import BUILTIN_DEVICES, DeviceEntry, load_devices
from edgeship.devices.profiles import get_profile
from edgeship.errors import DeviceError


def _load_transports() -> None:
    # each module registers its Device class; ssh imports paramiko only when a device connects
    import edgeship.devices.browser
    import edgeship.devices.icount
    import edgeship.devices.local
    import edgeship.devices.qemu
    import edgeship.devices.ssh  # noqa: F401


def get_device(name: str) -> Device:
    """The device called `name`: local, qemu-a72, browser, or one added with `edgeship devices add`."""
    _load_transports()
    if name in BUILTIN_DEVICES:
        transport, profile = BUILTIN_DEVICES[name]
        return TRANSPORTS[transport](name, get_profile(profile))
    configured = load_devices()
    if name not in configured:
        known = [*BUILTIN_DEVICES, *configured]
        raise DeviceError(
            f"unknown device '{name}'",
            hint=f"choose one of: {', '.join(known)}, or add it with `edgeship devices add {name} --ssh ...`",
        )
    return device_from_entry(name, configured[name])


def device_from_entry(name: str, entry: DeviceEntry) -> Device:
    """A Device for a configured entry."""
    _load_transports()
    return TRANSPORTS[entry.transport].from_entry(name, entry)
