"""The local device: the host itself, benchmarked through the same standalone agent as any device."""

from __future__ import annotations

import subprocess
import sys

from edgeship.devices.base import TIMEOUT_EXIT, Completed, Device, agent_path, register_transport


def run_local(command: list[str], timeout: float) -> Completed:
    """Run a host command, mapping a timeout to the exit status coreutils `timeout` uses."""
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Completed(TIMEOUT_EXIT, "", "timed out")
    return Completed(completed.returncode, completed.stdout, completed.stderr)


@register_transport("local")
class LocalDevice(Device):
    """Runs the agent in a fresh Python process on this machine."""

    def execute_agent(self, arguments: list[str], timeout: float) -> Completed:
        """Run the agent with this interpreter."""
        return run_local([sys.executable, str(agent_path()), *arguments], timeout)
