"""`edgeship app`: write app/<platform>/ with the artifact, metadata, vocabulary and sample code."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from edgeship.appkit.artifacts import ARTIFACTS, artifact_tensors, choose_variant
from edgeship.appkit.metadata import kit_metadata
from edgeship.appkit.platforms import PLATFORMS, Platform
from edgeship.appkit.readme import kit_readme
from edgeship.appkit.vocabulary import wordpiece_settings
from edgeship.bundle import Bundle
from edgeship.bundle_lock import bundle_lock
from edgeship.errors import EdgeshipError, ModelLoadError, OutputError
from edgeship.manifest import TextPreprocessing, Variant
from edgeship.runtimes.base import open_session


@dataclass
class Kit:
    """A written kit: where it is, what it holds."""

    root: Path
    variant: Variant
    artifact: str
    files: list[str]


def write_app_kit(
    bundle_dir: Path,
    platform: str,
    *,
    artifact: str | None = None,
    variant_id: str | None = None,
    out: Path | None = None,
) -> Kit:
    """Build the kit in a staging folder, then rename it to OUT/app/<platform> (OUT: the bundle)."""
    target = PLATFORMS[platform]  # names checked by AppStep / the recipe's App section
    kind_name = artifact or target.default_artifact
    kind = ARTIFACTS[kind_name]
    bundle = Bundle.open(bundle_dir)
    variant = choose_variant(bundle, kind, variant_id, platform)
    source = bundle.verified_file(variant)
    open_session(source, variant.format)  # a corrupt file fails here, named, before the kit is built
    app_dir = (out or bundle.root) / "app"
    try:
        app_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=app_dir, prefix=f".{platform}.staging-"))
    except OSError as exc:
        raise OutputError(
            f"cannot write to '{app_dir}': {exc.strerror or exc}", hint="choose a writable --out"
        ) from exc
    try:
        files = _fill(staging, bundle, target, kind_name, variant, source)
        staging.chmod(0o755)
        final, previous = app_dir / platform, app_dir / f".{platform}.previous"
        with bundle_lock(bundle.root) if out is None else contextlib.nullcontext():
            shutil.rmtree(previous, ignore_errors=True)
            if final.exists():
                os.replace(final, previous)
            os.replace(staging, final)
            shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Kit(final, variant, kind_name, files)


def _fill(
    kit: Path, bundle: Bundle, platform: Platform, kind_name: str, variant: Variant, source: Path
) -> list[str]:
    """Write every file of the kit into `kit`; returns their paths relative to it."""
    kind = ARTIFACTS[kind_name]
    assets = kit / platform.assets_dir
    assets.mkdir()
    try:
        model_files = kind.write(source, variant, assets)
        inputs, outputs = artifact_tensors(assets / model_files[0], kind)
    except (EdgeshipError, OSError):
        raise
    except Exception as exc:  # converters and runtimes raise their own types for unreadable models
        raise ModelLoadError(
            f"{source} cannot be read as a {variant.format} model: {str(exc).strip()[:200] or type(exc).__name__}",
            hint="the file is corrupt or truncated; re-run the step that produced it",
        ) from exc
    manifest = bundle.manifest
    tokenizer = None
    if isinstance(manifest.preprocessing, TextPreprocessing):
        tokenizer, vocabulary = wordpiece_settings(bundle.path(manifest.preprocessing.tokenizer))
        (assets / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    (assets / "labels.txt").write_text("\n".join(manifest.source.labels) + "\n", encoding="utf-8")
    metadata = kit_metadata(manifest, variant, kind, model_files, inputs, outputs, tokenizer)
    (assets / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    templates = resources.files("edgeship.appkit") / "templates"
    code = kit / platform.code_dir
    code.mkdir(parents=True)
    for name in platform.code_files(kind_name, manifest.preprocessing.kind):
        (code / name).write_text(
            (templates / platform.name / name).read_text(encoding="utf-8"), encoding="utf-8"
        )
    client = (templates / "reference_client.py").read_text(encoding="utf-8")
    (kit / "reference_client.py").write_text(client, encoding="utf-8")
    (kit / "README.md").write_text(kit_readme(platform, kind_name, metadata), encoding="utf-8")
    return sorted(str(path.relative_to(kit)) for path in kit.rglob("*") if path.is_file())
