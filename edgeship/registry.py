"""Name -> implementation registries filled by decorators in modules found by their name suffix."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Generic, TypeVar

from edgeship.errors import EdgeshipError

T = TypeVar("T")


class Registry(Generic[T]):
    """Implementations of one kind (exporters, runtimes, quantizers, descriptors) keyed by a name (`key`:
    an artifact format, a scheme, a task).

    Modules of `package` whose names end in `module_suffix` are imported on first lookup, so adding an
    implementation is one new module whose decorator calls `add`.
    """

    def __init__(self, kind: str, package: str, module_suffix: str, key: str = "format") -> None:
        self.kind, self.package, self.module_suffix, self.key = kind, package, module_suffix, key
        self._entries: dict[str, T] = {}
        self._discovered = False

    def add(self, name: str, entry: T) -> None:
        """Register `entry` under `name`."""
        self._entries[name] = entry

    def remove(self, name: str) -> None:
        """Forget `name` (a plugin unloaded, a test cleaning up)."""
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        self._discover()
        return sorted(self._entries)

    def get(self, name: str) -> T:
        """The entry for `name`, or an error listing the ones there are."""
        self._discover()
        if name not in self._entries:
            raise EdgeshipError(
                f"no {self.kind} for {self.key} '{name}'",
                hint=f"choose one of: {', '.join(self.names()) or 'none'}",
            )
        return self._entries[name]

    def _discover(self) -> None:
        if self._discovered:
            return
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if module.name.endswith(self.module_suffix):
                importlib.import_module(f"{self.package}.{module.name}")
        self._discovered = True
