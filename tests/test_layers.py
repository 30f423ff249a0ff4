"""The package layers (docs: DESIGN.md, "Packages"): every `edgeship` import in the installed folders points
down a layer or stays within its own, export and compress never import each other, no two packages import
each other (directly or round a cycle), and runtimes/agent.py imports nothing from edgeship at all."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
AGENT = "edgeship.runtimes.agent"  # copied alone to devices: no edgeship imports at all

GROUND = {
    "edgeship.errors",
    "edgeship.registry",
    "edgeship.manifest",
    "edgeship.bundle",
    "edgeship.bundle_lock",
    "edgeship.cache",
    "edgeship.console",
    "edgeship.options",
    "edgeship.sources",
    "edgeship.tasks",
    "edgeship.version",
}
LAYERS = {  # package prefix -> layer; anything else under edgeship is the front door
    "edgeship.runtimes": 1,
    "edgeship.export": 2,
    "edgeship.compress": 2,
    "edgeship.devices": 3,
}
FRONT_DOOR = 4
SIDE_BY_SIDE = ("edgeship.export", "edgeship.compress")


@dataclass(frozen=True)
class Import:
    """One `edgeship` import: where it is (file:line), the importing module and the imported one."""

    where: str
    source: str
    target: str
    name: str = ""  # the name a `from ... import name` takes from `target` when that is not a module

    def __str__(self) -> str:
        return f"{self.where} {self.source} -> {self.target}"


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer(module: str) -> int:
    """The layer of an `edgeship` module: 0 ground, 1 runtimes, 2 export/compress, 3 devices, 4 front door."""
    if any(_within(module, g) for g in GROUND):
        return 0
    for prefix, number in LAYERS.items():
        if _within(module, prefix):
            return number
    return FRONT_DOOR


def group(module: str) -> str:
    """The node a module belongs to in the package graph: its package, except that the modules directly under
    edgeship/ (ground ones such as edgeship.errors, front-door ones such as edgeship.cli, and the root
    package's __init__) each stand alone, since that folder holds unrelated layers side by side."""
    for g in GROUND:
        if _within(module, g):
            return g
    if module == "edgeship":
        return "edgeship.__init__"
    if module in PACKAGES:
        return module
    package = module.rpartition(".")[0]
    return module if package == "edgeship" else package


def package_dirs() -> dict[str, str]:
    """pyproject's [tool.setuptools] package-dir: package -> folder (relative to the repository root)."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        mapping: dict[str, str] = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return mapping


def module_files() -> dict[str, Path]:
    """Every .py file of the installed folders, by its module name (a package's __init__ as the package)."""
    mapping = package_dirs()
    folders = sorted(mapping.items(), key=lambda item: len(item[1]), reverse=True)
    modules: dict[str, Path] = {}
    for folder in mapping.values():
        if "/" in folder:
            continue  # a subfolder of a mapped top folder: walked with it
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            base, start = next((p, f) for p, f in folders if relative.startswith(f + "/"))
            parts = [base, *Path(relative).relative_to(start).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = module_files()
PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def find_imports(source: str, module: str, is_package: bool, filename: str) -> list[Import]:
    """Every `edgeship` import in `source` (module `module`), module level and function-local, relative
    imports resolved; `from a import b` names `a.b` where that is a module."""
    found: list[Import] = []
    here = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source, filename=filename)):
        targets: list[tuple[str, str]] = []
        if isinstance(node, ast.Import):
            targets = [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = here.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                targets.append((candidate, "") if candidate in MODULES else (base, alias.name))
        for target, name in targets:
            if _within(target, "edgeship"):
                found.append(Import(f"{filename}:{node.lineno}", module, target, name))
    return found


def violations(imports: list[Import]) -> list[Import]:
    """Imports that point to a higher layer, or between export and compress, or (in the agent) anywhere."""
    bad = []
    for imp in imports:
        if imp.source == AGENT:
            bad.append(imp)
            continue
        up = layer(imp.target) > layer(imp.source)
        across = any(
            _within(imp.source, a) and _within(imp.target, b)
            for a in SIDE_BY_SIDE
            for b in SIDE_BY_SIDE
            if a != b
        )
        if up or across:
            bad.append(imp)
    return bad


def find_cycle(edges: set[tuple[str, str]]) -> list[str] | None:
    """One cycle of the directed graph `edges` as [a, b, ..., a], or None."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def all_imports() -> list[Import]:
    found: list[Import] = []
    for module, path in MODULES.items():
        relative = path.relative_to(ROOT).as_posix()
        found += find_imports(path.read_text(encoding="utf-8"), module, path.name == "__init__.py", relative)
    return found


def test_the_walk_sees_every_layer() -> None:
    for expected in (
        "edgeship.cli",
        "edgeship.sources.loading",
        "edgeship.compress.quantize.registry",
        "edgeship.export.onnx_exporter",
        "edgeship.runtimes.tflite_graph",
        "edgeship.devices.staging",
        AGENT,
    ):
        assert expected in MODULES


def test_imports_point_down_the_layers() -> None:
    bad = dict.fromkeys(str(Import(i.where, i.source, i.target)) for i in violations(all_imports()))
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_no_cycle_between_packages() -> None:
    edges = {(group(i.source), group(i.target)) for i in all_imports()}
    cycle = find_cycle({(a, b) for a, b in edges if a != b})
    assert cycle is None, "package import cycle: " + " -> ".join(cycle or [])


def test_the_agent_imports_nothing_from_edgeship() -> None:
    path = MODULES[AGENT]
    found = find_imports(path.read_text(encoding="utf-8"), AGENT, False, "runtimes/agent.py")
    assert not found, "\n".join(map(str, found))


def test_the_checker_catches_upward_and_sideways_imports() -> None:
    source = (
        "from edgeship.errors import DeviceError\n"
        "def f():\n"
        "    from edgeship.pipeline.push import record_benchmark\n"
        "    from ..export import archs\n"
    )
    found = find_imports(source, "edgeship.compress.fake", False, "compress/fake.py")
    bad = [str(i) for i in violations(found)]
    assert bad == [
        "compress/fake.py:3 edgeship.compress.fake -> edgeship.pipeline.push",
        "compress/fake.py:4 edgeship.compress.fake -> edgeship.export.archs",
    ]
    assert find_cycle({("a", "b"), ("b", "c"), ("c", "a")}) == ["a", "b", "c", "a"]
    assert find_cycle({("a", "b"), ("b", "c")}) is None
