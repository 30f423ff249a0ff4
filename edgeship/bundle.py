"""Bundle directories: open, create atomically, change under a lock, install artifacts by rename, verify."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from edgeship.bundle_lock import bundle_lock, unwritable
from edgeship.errors import BundleError, NotABundleError, OutputError
from edgeship.manifest import SCHEMA_VERSION, Manifest, Variant
from edgeship.version import __version__

MANIFEST_NAME = "manifest.json"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's contents."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file through a temporary file and a rename, so readers never see it partial."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def install_file(staged: Path, target: Path) -> tuple[int, str]:
    """Move a finished file into place by rename; returns its size and sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    size, digest = staged.stat().st_size, sha256_of(staged)
    os.replace(staged, target)
    return size, digest


def is_bundle(path: Path) -> bool:
    """Whether `path` is a directory holding a manifest."""
    return (path / MANIFEST_NAME).is_file()


class Bundle:
    """A bundle directory and its manifest; the one structure every stage reads and writes."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest

    @classmethod
    def open(cls, root: Path | str) -> Bundle:
        """Open an existing bundle, validating its manifest."""
        root = Path(root)
        if not root.is_dir():
            raise NotABundleError(
                f"bundle directory '{root}' does not exist",
                hint="pass the --out directory of an earlier `edgeship export`",
            )
        manifest_path = root / MANIFEST_NAME
        if not manifest_path.is_file():
            raise NotABundleError(
                f"'{root}' is not an edgeship bundle (no {MANIFEST_NAME})",
                hint="pass a directory written by `edgeship export`",
            )
        try:
            raw = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(
                f"{manifest_path} is not valid JSON ({exc})",
                hint="re-run `edgeship export` into a new directory",
            ) from exc
        version = raw.get("schema_version") if isinstance(raw, dict) else None
        if type(version) is int and version > SCHEMA_VERSION:
            raise BundleError(
                f"{manifest_path} has schema_version {version}; this edgeship reads up to {SCHEMA_VERSION}",
                hint="upgrade edgeship",
            )
        try:
            manifest = Manifest.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            raise BundleError(
                f"{manifest_path}: field '{field}': {first['msg'].removeprefix('Value error, ')}",
                hint="the manifest was edited or written by another tool; re-export the bundle",
            ) from exc
        bundle = cls(root, manifest)
        for relative in referenced_files(manifest):
            bundle.path(relative)
        return bundle

    def path(self, relative: str) -> Path:
        """Absolute path of a file inside the bundle; refuses one that resolves outside it (a symlink out)."""
        path = self.root / relative
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise BundleError(
                f"{self.root / MANIFEST_NAME} lists '{relative}', which leads outside the bundle",
                hint="a bundle holds its own files; re-export it instead of linking files from elsewhere",
            )
        return path

    def check_writable(self) -> None:
        """Fail now, before any work, if the bundle cannot be written (read-only, no permission)."""
        try:
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".edgeship-probe-"):
                pass
        except OSError as exc:
            raise unwritable(self.root, exc) from exc

    @contextlib.contextmanager
    def update(self) -> Iterator[BundleUpdate]:
        """Change the bundle under its lock: the manifest is re-read, the block changes it and installs
        files, then the manifest is written and the files it stopped listing are removed. A failure (or a
        kill) at any point leaves the old manifest and the files it lists."""
        with bundle_lock(self.root):
            current = Bundle.open(self.root)
            change = BundleUpdate(current)
            try:
                yield change
                current.save()
            except BaseException:
                change.discard_installed()
                raise
            change.remove_unlisted()
            self.manifest = current.manifest

    def save(self) -> None:
        """Write the manifest atomically; call it last, after every file it lists is in place."""
        self.manifest.created_with = __version__
        write_text_atomic(self.root / MANIFEST_NAME, self.manifest.model_dump_json(indent=2) + "\n")

    def verified_file(self, variant: Variant) -> Path:
        """The variant's file, after checking it is present and unchanged since it was recorded."""
        path = self.path(variant.file)
        if not path.is_file():
            raise BundleError(
                f"variant '{variant.id}' lists {variant.file}, which is missing from {self.root}",
                hint="re-run the step that produced it",
            )
        if path.stat().st_size != variant.bytes or sha256_of(path) != variant.sha256:
            raise BundleError(
                f"{variant.file} does not match the sha256 recorded for variant '{variant.id}' (corrupt or altered)",
                hint="re-run the step that produced it",
            )
        return path

    def select_variants(self, variant_ids: list[str] | None) -> list[Variant]:
        """The named variants (all when None), failing on an unknown id."""
        if not variant_ids:
            return list(self.manifest.variants)
        known = {v.id: v for v in self.manifest.variants}
        missing = [v for v in variant_ids if v not in known]
        if missing:
            raise BundleError(
                f"no variant {', '.join(repr(m) for m in missing)} in {self.root}",
                hint=f"choose from: {', '.join(known) or '(none)'}",
            )
        return [known[v] for v in variant_ids]


def referenced_files(manifest: Manifest) -> list[str]:
    """Every file the manifest lists: variants' artifacts, raw benchmark and debug results, the parity
    reference."""
    files = [variant.file for variant in manifest.variants] + [b.raw for b in manifest.benchmarks]
    files += [record.raw for record in manifest.debug]
    files += [record.plot for record in manifest.debug if record.plot]
    return files + ([manifest.parity_reference] if manifest.parity_reference else [])


class BundleUpdate:
    """What one `Bundle.update` block does: new files go in under names the manifest does not list yet,
    so the old manifest stays true until the new one is written."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.manifest = bundle.manifest
        self._listed_before = set(referenced_files(bundle.manifest))
        self._installed: list[str] = []

    def install(self, staged: Path, preferred: str) -> tuple[str, int, str]:
        """Move a finished file into the bundle at `preferred`, or beside it when the manifest still lists
        that name; returns the relative name used, its size and sha256."""
        size, digest = staged.stat().st_size, sha256_of(staged)
        relative = preferred
        if preferred in self._listed_before:
            name = PurePosixPath(preferred)
            relative = str(name.with_name(f"{name.stem}-{digest[:12]}{name.suffix}"))
        install_file(staged, self.bundle.path(relative))
        self._installed.append(relative)
        return relative, size, digest

    def write_text(self, preferred: str, text: str) -> str:
        """Install a small text file (e.g. raw benchmark JSON) like `install`; returns its name."""
        with staging_directory(self.bundle.root) as staging:
            staged = staging / PurePosixPath(preferred).name
            staged.write_text(text, encoding="utf-8")
            return self.install(staged, preferred)[0]

    def discard_installed(self) -> None:
        """Remove the files this update installed (its manifest was never written)."""
        for relative in self._installed:
            if relative not in self._listed_before:
                self.bundle.path(relative).unlink(missing_ok=True)

    def remove_unlisted(self) -> None:
        """After the manifest is written: remove the files it listed before and lists no more."""
        for relative in self._listed_before - set(referenced_files(self.manifest)):
            self.bundle.path(relative).unlink(missing_ok=True)


def _owner_is_gone(leftover: Path) -> bool:
    """Whether the process named in a `...staging-PID-...` directory has exited (a killed run's leftover)."""
    pid = leftover.name.split("staging-", 1)[1].split("-", 1)[0]
    if not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep_leftovers(parent: Path, prefix: str) -> None:
    """Remove `prefix`staging-PID-* directories under `parent` whose process is gone (killed runs)."""
    for leftover in parent.glob(f"{glob.escape(prefix)}staging-*"):
        if leftover.is_dir() and _owner_is_gone(leftover):
            shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def staging_directory(root: Path) -> Iterator[Path]:
    """A scratch directory inside a bundle for files not yet installed; removed on exit (and, after a
    kill, by the next run)."""
    sweep_leftovers(root, ".")
    try:
        staging_dir = Path(tempfile.mkdtemp(dir=root, prefix=f".staging-{os.getpid()}-"))
    except OSError as exc:
        raise unwritable(root, exc) from exc
    try:
        yield staging_dir
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)


def prepare_output(out: Path) -> None:
    """Check that `out` can become a new bundle: absent or an empty directory, in a writable place."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"output '{out}' exists and is a file", hint="choose a directory path for --out")
    if out.is_dir() and any(out.iterdir()) and not is_bundle(out):
        raise NotABundleError(
            f"output '{out}' is a non-empty directory that is not an edgeship bundle",
            hint="choose a new or empty directory for --out",
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=".edgeship-probe-"):
            pass
    except OSError as exc:
        raise OutputError(
            f"cannot write to '{out.parent}': {exc.strerror or exc}",
            hint="choose a writable directory for --out",
        ) from exc


@contextlib.contextmanager
def new_bundle_directory(out: Path) -> Iterator[Path]:
    """Yield a sibling staging directory that becomes `out` only if the block succeeds."""
    prepare_output(out)
    sweep_leftovers(out.parent, f".{out.name}.")
    staging_dir = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.staging-{os.getpid()}-"))
    try:
        yield staging_dir
        try:
            if out.is_dir():
                out.rmdir()
            os.replace(staging_dir, out)
        except OSError as exc:
            raise OutputError(
                f"'{out}' was created by another command while this one ran", hint="choose another --out"
            ) from exc
    except BaseException:
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise
