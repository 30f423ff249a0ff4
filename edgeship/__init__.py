"""edgeship: compress, export, benchmark and ship transformers to edge devices.

The Python API (the CLI's steps, same options): `edgeship.export`, `edgeship.quantize`, `edgeship.distill`,
`edgeship.evaluate`, `edgeship.bench`, `edgeship.debug` and `edgeship.Bundle`, imported on first use.
"""

from __future__ import annotations

import types
from typing import Any

import edgeship.export as _export_package
from edgeship.version import __version__

__all__ = ["__version__"]
API = ("Bundle", "bench", "debug", "distill", "evaluate", "quantize")


class _CallableExportPackage(types.ModuleType):
    """`edgeship.export` is both the exporters' package and the export step: calling it runs the step."""

    def __call__(self, model: Any, out: Any, **options: Any) -> Any:
        from edgeship.api import export

        return export(model, out, **options)


_export_package.__class__ = _CallableExportPackage


def __getattr__(name: str) -> Any:
    if name in API:
        from edgeship import api

        return getattr(api, name)
    raise AttributeError(f"module 'edgeship' has no attribute {name!r}")
