"""Device profiles (YAML data) and the user's devices file, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edgeship.devices.config import parse_ssh_target
from edgeship.devices.profiles import get_profile, profiles
from edgeship.errors import DeviceError
from tests.conftest import run_cli


def test_profiles_are_data_with_the_a72_facts() -> None:
    assert set(profiles()) == {
        "rpi4",
        "rpi5",
        "jetson-orin-nano",
        "qemu-a72",
        "qemu-a72-icount",
        "local",
        "local-gpu",
        "browser",
    }
    rpi4 = get_profile("rpi4")
    assert (rpi4.cpu, rpi4.cores, rpi4.ghz, rpi4.arch, rpi4.dotprod) == (
        "Cortex-A72",
        4,
        1.5,
        "aarch64",
        False,
    )
    assert get_profile("rpi5").dotprod and get_profile("qemu-a72").emulated
    assert {name for name, p in profiles().items() if p.emulated} == {"qemu-a72", "qemu-a72-icount"}
    with pytest.raises(DeviceError, match="unknown device profile 'rpi9'"):
        get_profile("rpi9")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("pi@raspberrypi.local", ("pi", "raspberrypi.local", 22)),
        ("root@127.0.0.1:2222", ("root", "127.0.0.1", 2222)),
        ("me@[::1]:22022", ("me", "::1", 22022)),
    ],
)
def test_ssh_targets_parse(target: str, expected: tuple[str, str, int]) -> None:
    assert parse_ssh_target(target) == expected


def test_add_list_and_remove_devices(config_dir: Path) -> None:
    added = run_cli(
        "devices", "add", "garden-pi", "--ssh", "pi@127.0.0.1:2222", "--profile", "rpi4", "--timeout", "60"
    )
    assert added.returncode == 0, added.stderr
    stored = yaml.safe_load((config_dir / "devices.yaml").read_text())["devices"]["garden-pi"]
    assert stored == {"user": "pi", "host": "127.0.0.1", "port": 2222, "profile": "rpi4", "timeout": 60.0}
    listing = run_cli("devices", "list")
    assert listing.returncode == 0
    for expected in (
        "garden-pi",
        "pi@127.0.0.1:2222",
        "4x Cortex-A72",
        "qemu-a72",
        "local",
        "local-gpu",
        "jetson-orin-nano",
    ):
        assert expected in listing.stdout
    assert run_cli("devices", "remove", "garden-pi").returncode == 0
    assert "garden-pi" not in run_cli("devices", "list").stdout
    gone = run_cli("devices", "remove", "garden-pi")
    assert gone.returncode == 1 and "no device 'garden-pi'" in gone.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["pi", "--ssh", "raspberrypi", "--profile", "rpi4"], "'raspberrypi' is not an SSH target"),
        (["pi", "--ssh", "pi@host", "--profile", "rpi9"], "unknown device profile 'rpi9'"),
        (["local", "--ssh", "pi@host", "--profile", "rpi4"], "'local' is a built-in device"),
        (["bad name", "--ssh", "pi@host", "--profile", "rpi4"], "'bad name' is not a device name"),
    ],
)
def test_bad_devices_are_refused_in_one_line(config_dir: Path, arguments: list[str], message: str) -> None:
    result = run_cli("devices", "add", *arguments)
    assert (
        result.returncode == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    )
    assert not (config_dir / "devices.yaml").exists()


def test_a_broken_devices_file_names_the_field(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "devices.yaml").write_text("devices: {pi: {user: pi, host: h}}\n")
    broken = run_cli("devices", "list")
    assert broken.returncode == 1 and "field 'profile'" in broken.stderr
