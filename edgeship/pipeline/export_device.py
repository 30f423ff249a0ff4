"""`edgeship export --device`: an engine built on the device it will run on, and checked for parity there.

TensorRT engines run only on the GPU and TensorRT version that built them, so for a Jetson the build
happens on the Jetson: the same ONNX graph a local build uses (a plain export for fp32 / fp16, the bundle's
Q/DQ variant for int8 / int4) is pushed there, the agent builds it, and the engine comes back
sha256-verified. The engine cannot run here, so parity runs there, on the bundle's parity inputs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeship.console import step
from edgeship.devices.base import Device
from edgeship.devices.engine_build import EngineBuild
from edgeship.devices.engines import check_can_build
from edgeship.errors import EdgeshipError
from edgeship.export.parity import DYNAMIC_BATCH
from edgeship.export.registry import VARIANT_PRECISION, ExportOptions, ExportResult
from edgeship.export.tensorrt_config import profile_options
from edgeship.pipeline.push import device_folder
from edgeship.runtimes.base import Session

if TYPE_CHECKING:
    from edgeship.export.tensorrt_exporter import EnginePlan
    from edgeship.sources.loading import LoadedModel


@dataclass(frozen=True)
class BuildDevice:
    """The device an engine is built on (probed and able to), and the bundle's folder there."""

    device: Device
    folder: str


def build_device(exporter: Any, name: str | None, options: ExportOptions, out: Path) -> BuildDevice | None:
    """The device `--device NAME` builds on, refused in one line when it cannot (no GPU, no TensorRT,
    int4 before TensorRT 10) or the format is not built per device; None builds on this machine."""
    if name is None:
        return None
    if not getattr(exporter, "builds_on_device", False):
        raise EdgeshipError(
            f"--device builds an artifact on the device that runs it, and --format {exporter.format} files "
            "run anywhere: they are built here",
            hint="drop --device (then `edgeship push` or `edgeship bench --device`), or use --format tensorrt",
        )
    from edgeship.devices.registry import get_device

    device = get_device(name)
    with step(f"Probing {name} ({device.address})"):
        probe = device.probe()
    variant = f"{exporter.format}-{VARIANT_PRECISION[options.precision]}"
    check_can_build(device, probe, variant, options.precision)
    return BuildDevice(device, device_folder(out))


@contextmanager
def engine_on_device(
    target: BuildDevice, exporter: Any, loaded: LoadedModel, staged: Path, options: ExportOptions, file: str
) -> Iterator[tuple[ExportResult, Session]]:
    """Build the engine on the device and fetch it into `staged`; yields the export result and a Session
    that runs the engine there (for parity). Leaving without an error renames the engine to its live
    place (`file`) on the device; the device's staging folder is emptied whatever happens."""
    device = target.device
    with tempfile.TemporaryDirectory(dir=staged.parent) as folder:
        scratch = Path(folder)
        build = EngineBuild(device, target.folder, scratch)
        try:
            plan: EnginePlan = exporter.plan(loaded, options, scratch)
            with step(f"Building {Path(file).stem} on {device.name} ({device.address})"):
                engine = build.build(
                    plan.graph,
                    file,
                    precision=options.precision,
                    profile=profile_options(plan.profile),
                    workspace_mb=options.workspace_mb,
                    timing_cache=str(options.timing_cache) if options.timing_cache else None,
                )
            with step(f"Fetching the engine ({engine.bytes / 1e6:.1f} MB, sha256 checked)"):
                build.fetch(engine, staged)
            result = exporter.describe(
                plan,
                options,
                layers=engine.report.get("layers") or plan.nodes,  # trtexec does not say: the ONNX nodes
                built_for=engine.built_for,
                timing_cache=str(engine.report.get("timing_cache")),
                extra={"device": device.name, "builder": engine.report.get("builder")},
            )
            yield result, build.session(engine, _parity_batch(plan))
            build.promote(engine, file)
        finally:
            build.discard()


def _parity_batch(plan: EnginePlan) -> int | None:
    """Rows per parity run: the default, unless the engine's profile takes fewer."""
    largest = min(entry.max[0] for entry in plan.profile) if plan.profile else DYNAMIC_BATCH
    return largest if largest < DYNAMIC_BATCH else None
