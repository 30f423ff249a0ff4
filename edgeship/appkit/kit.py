"""`edgeship app`: write app/<platform>/ with the artifact, metadata, tokenizer and sample code."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edgeship.appkit.artifacts import ARTIFACTS, artifact_tensors
from edgeship.appkit.choice import Choice, choose_variant
from edgeship.appkit.heads import KitHead, kit_head
from edgeship.appkit.metadata import KIT_SCHEMA, kit_metadata
from edgeship.appkit.platforms import PLATFORMS, Platform
from edgeship.appkit.readme import kit_readme
from edgeship.appkit.vocabulary import wordpiece_settings
from edgeship.appkit.web_check import SCREENSHOT, check_page_in_chromium, check_runs_in_browser_runtime
from edgeship.bundle import Bundle
from edgeship.bundle_lock import bundle_lock
from edgeship.errors import BundleError, EdgeshipError, ModelLoadError, OutputError
from edgeship.manifest import TextPreprocessing, Variant
from edgeship.runtimes.base import open_session


@dataclass
class Kit:
    """A written kit: where it is, what it holds."""

    root: Path
    variant: Variant
    artifact: str
    files: list[str]
    reason: str
    """Why this variant, with its numbers."""
    notes: list[str]
    """What the kit writer could not check, said once."""


KIT_RECORD = ".edgeship-kit.json"
"""The kit's own file list: a later `app` replaces a folder only when it holds nothing else."""
KEPT_ACROSS_REWRITES = ("node_modules", "package-lock.json")
"""What an app developer's `npm install` adds to a JavaScript kit; moved into the rewritten kit."""


def write_app_kit(
    bundle_dir: Path,
    platform: str,
    *,
    artifact: str | None = None,
    variant_id: str | None = None,
    out: Path | None = None,
    max_accuracy_drop: float = 1.0,
    force: bool = False,
) -> Kit:
    """Build the kit in a staging folder, then rename it to OUT/app/<platform> (OUT: the bundle)."""
    target = PLATFORMS[platform]  # names checked by AppStep / the recipe's App section
    kind_name = artifact or target.default_artifact
    if kind_name not in target.artifacts:
        raise BundleError(
            f"the {platform} kit runs {' or '.join(target.artifacts)} artifacts, not {kind_name}",
            hint=f"pass --artifact {target.artifacts[0]}, or pick a platform whose runtime reads {kind_name}",
        )
    kind = ARTIFACTS[kind_name]
    bundle = Bundle.open(bundle_dir)
    head = kit_head(bundle.manifest)
    choice = choose_variant(bundle, kind, target, variant_id, max_accuracy_drop, head)
    variant = choice.variant
    source = bundle.verified_file(variant)
    open_session(source, variant.format)  # a corrupt file fails here, named, before the kit is built
    app_dir = (out or bundle.root) / "app"
    _refuse_foreign_files(app_dir / platform, force)
    notes = check_runs_in_browser_runtime(source, variant, target)
    try:
        app_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=app_dir, prefix=f".{platform}.staging-"))
    except OSError as exc:
        raise OutputError(
            f"cannot write to '{app_dir}': {exc.strerror or exc}", hint="choose a writable --out"
        ) from exc
    try:
        metadata = _fill(staging, bundle, target, kind_name, choice, source, head)
        if target.name == "web":
            notes += check_page_in_chromium(staging, variant)
        readme = kit_readme(target, kind_name, metadata, screenshot=(staging / SCREENSHOT).is_file())
        (staging / "README.md").write_text(readme, encoding="utf-8")
        files = sorted(str(path.relative_to(staging)) for path in staging.rglob("*") if path.is_file())
        (staging / KIT_RECORD).write_text(json.dumps({"files": files}, indent=1) + "\n", encoding="utf-8")
        staging.chmod(0o755)
        final, previous = app_dir / platform, app_dir / f".{platform}.previous"
        with bundle_lock(bundle.root) if out is None else contextlib.nullcontext():
            shutil.rmtree(previous, ignore_errors=True)
            if final.exists():
                for name in KEPT_ACROSS_REWRITES:
                    if (final / name).exists():
                        os.replace(final / name, staging / name)
                os.replace(final, previous)
            os.replace(staging, final)
            shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Kit(final, variant, kind_name, files, choice.reason, notes)


def _refuse_foreign_files(kit_dir: Path, force: bool) -> None:
    """Refuse to replace a kit folder holding files the last kit did not write (unless --force)."""
    if force or not kit_dir.exists():
        return
    try:
        listed = set(json.loads((kit_dir / KIT_RECORD).read_text(encoding="utf-8"))["files"])
    except (OSError, ValueError, KeyError, TypeError):
        if _written_before_records(kit_dir):
            return
        listed = set()
    present = {
        str(path.relative_to(kit_dir))
        for path in kit_dir.rglob("*")
        if path.is_file() and path.relative_to(kit_dir).parts[0] not in (*KEPT_ACROSS_REWRITES, KIT_RECORD)
    }
    foreign = sorted(present - listed)
    if foreign or not kit_dir.is_dir():
        shown = ", ".join(foreign[:4]) + (", ..." if len(foreign) > 4 else "")
        raise OutputError(
            f"{kit_dir} already holds files this kit did not write ({len(foreign)}: {shown or 'not a folder'}); "
            "writing the kit would replace them",
            hint="pass another --out, move those files away, or --force to replace the folder",
        )


def _fill(
    kit: Path, bundle: Bundle, platform: Platform, kind_name: str, choice: Choice, source: Path, head: KitHead
) -> dict[str, Any]:
    """Write the kit's model, metadata and code into `kit` (all but its README); returns the metadata."""
    kind, variant = ARTIFACTS[kind_name], choice.variant
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
    head.check_output(outputs[0], variant.id)
    manifest = bundle.manifest
    tokenizer = None
    if isinstance(manifest.preprocessing, TextPreprocessing):
        tokenizer_dir = bundle.path(manifest.preprocessing.tokenizer)
        tokenizer, vocabulary = wordpiece_settings(tokenizer_dir)
        (assets / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
        if platform.tokenizer_files:
            for name in TOKENIZER_FILES:
                shutil.copyfile(tokenizer_dir / name, assets / name)
    if head.labels_file:
        (assets / "labels.txt").write_text("\n".join(manifest.source.labels) + "\n", encoding="utf-8")
    metadata = kit_metadata(manifest, variant, kind, model_files, inputs, outputs, tokenizer, head)
    metadata["model"]["chosen_because"] = choice.reason
    (assets / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    templates = resources.files("edgeship.appkit") / "templates"
    code = kit / platform.code_dir
    code.mkdir(parents=True)
    for template in platform.code_files(kind_name, manifest.preprocessing.kind, head):
        _copy_template(templates, template, code)
    for template in (*platform.root_files, "reference_client.py"):
        _copy_template(templates, template, kit)
    _point_package_at(
        kit / "package.json", f"{platform.code_dir}/{platform.sample(kind_name, head).rsplit('/', 1)[-1]}"
    )
    return metadata


def _point_package_at(package: Path, module: str) -> None:
    """A JavaScript kit's package.json with `main`: it names the module the kit ships (classifier or embedder)."""
    if not package.is_file():
        return
    fields = json.loads(package.read_text(encoding="utf-8"))
    if "main" in fields and fields["main"] != module:
        fields["main"] = module
        package.write_text(json.dumps(fields, indent=2) + "\n", encoding="utf-8")


def _written_before_records(kit_dir: Path) -> bool:
    """A kit from an edgeship that wrote no file list: its metadata.json carries the kit schema."""
    for metadata in kit_dir.glob("*/metadata.json"):
        try:
            if json.loads(metadata.read_text(encoding="utf-8")).get("schema") == KIT_SCHEMA:
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
"""What tokenizers.js reads (the JavaScript kits)."""


def _copy_template(templates: Any, template: str, folder: Path) -> None:
    """templates/<template> (a path relative to templates/) into `folder`, under its own file name."""
    name = template.rsplit("/", 1)[-1]
    (folder / name).write_text((templates / template).read_text(encoding="utf-8"), encoding="utf-8")
