"""Staging folders on a device: new files wait in `bundles/<bundle>/.staging/` (beside the live ones, so
the same filesystem) until they are renamed over the live files or removed."""

from __future__ import annotations

import posixpath

from edgeship.devices.base import Device

STAGING = ".staging"


def remove_staged(device: Device, root: str, staged: list[str], done: set[str] | None = None) -> None:
    """Remove the `staged` files (paths under the device workdir, those in `done` already renamed away),
    then the folders under `root` (a staging folder) that they leave empty, deepest first."""
    folders = {root}
    for relative in staged:
        folder = posixpath.dirname(relative)
        while folder.startswith(root + "/"):
            folders.add(folder)
            folder = posixpath.dirname(folder)
    files = [r for r in dict.fromkeys(staged) if r not in (done or set())]
    deepest_first = sorted(folders, key=lambda f: f.count("/"), reverse=True)
    device.remove([device.location(f) for f in files], [device.location(f) for f in deepest_first])
