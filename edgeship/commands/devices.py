"""`edgeship devices add/list/probe/trust/remove`: the boards edgeship pushes to and benchmarks on."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeship.console import results


def register(app: typer.Typer) -> None:
    """Add the devices command group."""
    devices = typer.Typer(
        help="Manage devices: SSH boards, plus the built-in local, local-gpu, qemu-a72, qemu-a72-icount "
        "and browser.",
        no_args_is_help=True,
    )
    app.add_typer(devices, name="devices")

    @devices.command("add")
    def add(
        name: str = typer.Argument(..., help="A name for the device, e.g. pi4."),
        ssh: str = typer.Option(..., help="user@host[:port] of the device."),
        profile: str = typer.Option(..., help="Device profile: rpi4, rpi5, jetson-orin-nano, qemu-a72, ..."),
        key: Path | None = typer.Option(None, help="Private key file (default: ~/.ssh keys and ssh-agent)."),
        known_hosts: Path | None = typer.Option(None, help="known_hosts file (default: ~/.ssh/known_hosts)."),
        python: str = typer.Option("python3", help="Command line that starts Python on the device."),
        workdir: str = typer.Option(".edgeship", help="Folder on the device for the agent and bundles."),
        timeout: float = typer.Option(
            1800, help="Seconds any one remote command may take, and connecting (all retries) too."
        ),
        replace: bool = typer.Option(False, help="Overwrite a device with the same name."),
    ) -> None:
        """Remember an SSH device (nothing is contacted; `devices probe` checks it)."""
        from pydantic import ValidationError

        from edgeship.devices.config import DeviceEntry, add_device, config_file, parse_ssh_target
        from edgeship.devices.profiles import get_profile
        from edgeship.options import options_error

        user, host, port = parse_ssh_target(ssh)
        get_profile(profile)
        try:
            entry = DeviceEntry(
                user=user,
                host=host,
                port=port,
                profile=profile,
                key=str(key.expanduser().resolve()) if key else None,
                known_hosts=str(known_hosts.expanduser().resolve()) if known_hosts else None,
                python=python,
                workdir=workdir,
                timeout=timeout,
            )
        except ValidationError as exc:
            raise options_error(exc, DeviceEntry, "devices add") from exc
        add_device(name, entry, replace=replace)
        results.print(f"added device {name} ({entry.address}, profile {profile}) to {config_file()}")

    @devices.command("list")
    def list_devices() -> None:
        """Show the built-in and configured devices and the profiles there are."""
        from rich.table import Table

        from edgeship.devices.config import BUILTIN_DEVICES, load_devices
        from edgeship.devices.profiles import profiles
        from edgeship.devices.registry import get_device

        table = Table(title="devices")
        for column in ("name", "address", "profile", "cpu", "emulated"):
            table.add_column(column)
        known = profiles()
        for name, (_, profile) in BUILTIN_DEVICES.items():
            address = get_device(name).address
            table.add_row(name, address, profile, known[profile].cpu, str(known[profile].emulated).lower())
        for name, entry in load_devices().items():
            detail = known.get(entry.profile)
            cpu = (
                f"{detail.cores}x {detail.cpu}"
                if detail and detail.cores
                else (detail.cpu if detail else "?")
            )
            emulated = str(detail.emulated).lower() if detail else "?"
            table.add_row(name, entry.address, entry.profile, cpu, emulated)
        results.print(table)
        results.print("profiles: " + ", ".join(f"{p.name} ({p.description})" for p in known.values()))

    @devices.command("probe")
    def probe(name: str = typer.Argument(..., help="Device name.")) -> None:
        """Connect and report CPU, cores, Python, the runtimes that import, and free disk."""
        from edgeship.devices.registry import get_device

        device = get_device(name)
        facts = device.probe()
        cpu, runtimes = facts["cpu"], facts.get("runtimes", {})
        results.print(f"device      {name} ({device.address}, profile {device.profile.name})")
        results.print(f"cpu         {cpu.get('model') or '?'} ({cpu['machine']}), {cpu['cores']} cores")
        results.print(f"features    {' '.join(cpu.get('features', [])) or '?'}")
        results.print(
            f"system      {facts.get('system', '?')}, Python {facts['python']}, numpy {facts.get('numpy')}"
        )
        listed = (
            ", ".join(f"{k} {v}" for k, v in runtimes.items())
            or "none (install onnxruntime / ai-edge-litert)"
        )
        results.print(f"runtimes    {listed}")
        results.print(f"free disk   {facts['free_disk_mb']} MB")
        if "tflite-runtime" in runtimes and "ai-edge-litert" not in runtimes:
            results.print(
                "note        tflite-runtime 2.14 cannot run litert-torch text models (GATHER_ND v5), int4 or "
                "dynamic-range files: install ai-edge-litert on the device"
            )
        if device.emulated:
            results.print(
                "note        emulated: timings here compare variants; they are not the device's latency"
            )

    @devices.command("trust")
    def trust(
        name: str = typer.Argument(..., help="Device name."),
        fingerprint: str = typer.Argument(..., help="The host key fingerprint you checked, SHA256:..."),
    ) -> None:
        """Add the device's host key to known_hosts, only if it has the fingerprint you checked."""
        from edgeship.devices.config import load_devices
        from edgeship.devices.ssh import SshConnection
        from edgeship.errors import DeviceError

        configured = load_devices()
        if name not in configured:
            raise DeviceError(f"no SSH device '{name}'", hint="add it first with `edgeship devices add`")
        connection = SshConnection(configured[name], name)
        trusted = connection.trust(fingerprint)
        results.print(f"trusted {trusted} for {name} in {connection.known_hosts}")

    @devices.command("remove")
    def remove(name: str = typer.Argument(..., help="Device name.")) -> None:
        """Forget a configured device."""
        from edgeship.devices.config import remove_device

        remove_device(name)
        results.print(f"removed device {name}")
