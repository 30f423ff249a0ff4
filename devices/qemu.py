"""The emulated Cortex-A72: the agent runs under qemu-aarch64-static -cpu cortex-a72 on an arm64 userland.

Every result is marked emulated: QEMU runs 90-330x slower than the hardware, so its milliseconds only
compare variants with each other; they are never Cortex-A72 latency.
"""

from __future__ import annotations

from edgeship.devices.base import Completed, Device, agent_path, register_transport
from edgeship.devices.local import run_local
from edgeship.devices.userland import ensure_userland


@register_transport("qemu")
class QemuDevice(Device):
    """Runs the agent in an emulated arm64 process (user mode) on this machine."""

    cpu = "cortex-a72"

    @property
    def address(self) -> str:
        """How the device is reached, for listings."""
        return f"qemu-aarch64-static -cpu {self.cpu} (this machine)"

    def execute_agent(self, arguments: list[str], timeout: float) -> Completed:
        """Run the agent with the emulated interpreter, building the userland on first use."""
        command = [*ensure_userland().python_command(self.cpu), str(agent_path()), *arguments]
        return run_local(command, timeout)
