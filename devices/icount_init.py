#!/usr/bin/python3.11
"""/init of the qemu-a72-icount initramfs: mount /proc, /sys and /dev, run the agent once, print its
result between the job's markers on the serial console, power off.

Copied into the guest as a single file: standard library only.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import subprocess
import sys

JOB = "/edgeship/job.json"
OUT = "/edgeship/out"
POWER_OFF = 0x4321FEDC  # LINUX_REBOOT_CMD_POWER_OFF


def mount(libc: ctypes.CDLL, fstype: str, target: str) -> None:
    """Mount a kernel filesystem (proc, sysfs, devtmpfs) at `target`."""
    os.makedirs(target, exist_ok=True)
    if libc.mount(fstype.encode(), target.encode(), fstype.encode(), 0, None) != 0:
        print(f"init: mount {fstype} on {target} failed (errno {ctypes.get_errno()})", file=sys.stderr)


def run_agent(arguments: list) -> dict:
    """Run the agent with `arguments`; returns its exit status, output and the files it wrote to OUT."""
    os.makedirs(OUT, exist_ok=True)
    environment = {"PATH": "/usr/bin:/bin", "HOME": "/root", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"}
    completed = subprocess.run(
        [sys.executable, "/edgeship/agent.py", *arguments],
        cwd="/edgeship",
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    outputs = {}
    for name in sorted(os.listdir(OUT)):
        with open(os.path.join(OUT, name), "rb") as handle:
            outputs[name] = base64.b64encode(handle.read()).decode()
    return {
        "returncode": completed.returncode,
        "stdout": completed.stdout,
        "stderr": completed.stderr,
        "outputs": outputs,
    }


def main() -> None:
    """Mount, run, report between the job's markers, power off (also when the agent fails)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for fstype, target in (("proc", "/proc"), ("sysfs", "/sys"), ("devtmpfs", "/dev")):
        mount(libc, fstype, target)
    with open(JOB, encoding="utf-8") as handle:
        job = json.load(handle)
    try:
        result = run_agent(job["arguments"])
    except Exception as error:  # report it rather than leave the host waiting for its timeout
        result = {"returncode": 1, "stdout": "", "stderr": f"init: {error!r}", "outputs": {}}
    marker = job["marker"]
    sys.stdout.write(f"\n{marker}-BEGIN\n{json.dumps(result)}\n{marker}-END\n")
    sys.stdout.flush()
    os.sync()
    libc.reboot(POWER_OFF)


if __name__ == "__main__":
    main()
