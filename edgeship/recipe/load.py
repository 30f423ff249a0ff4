"""Read a recipe YAML into a `Recipe`; errors name the file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from edgeship.errors import EdgeshipError
from edgeship.recipe.schema import Recipe
from edgeship.sources.data import read_utf8

LineIndex = dict[tuple[str | int, ...], int]


class RecipeError(EdgeshipError):
    """A recipe file that cannot be read or does not validate."""


def load_recipe(path: Path, overrides: list[str] | None = None) -> Recipe:
    """Parse and validate `path`; each override is `dotted.key=YAML value` applied before validation."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe '{path}' does not exist", hint="pass a recipe YAML file, see examples/")
    text = read_utf8(path, RecipeError)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise RecipeError(f"{where}: not valid YAML: {_problem(exc)}", hint="fix the YAML syntax") from exc
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of sections", hint="see examples/ for the layout")
    lines: LineIndex = {}
    _index_lines(node, (), lines, path)
    for override in overrides or []:
        _apply_override(data, override)
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise _recipe_error(exc, path, lines, overrides or []) from exc


def _index_lines(node: yaml.Node | None, path: tuple[str | int, ...], lines: LineIndex, file: Path) -> None:
    """Record the 1-based line of every mapping key and sequence item under `node`.

    A key given twice in one mapping is refused: YAML loaders keep the last silently.
    """
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            where = (*path, key.value)
            if where in lines:
                raise RecipeError(
                    f"{file}:{key.start_mark.line + 1}: {'.'.join(map(str, where))} is given twice "
                    f"(first on line {lines[where]})",
                    hint="keep one of them",
                )
            lines[where] = key.start_mark.line + 1
            _index_lines(value, where, lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _index_lines(item, (*path, index), lines, file)


def _apply_override(data: dict[str, Any], override: str) -> None:
    """Set `a.b.c=value` (value parsed as YAML) in the raw recipe mapping."""
    key, sep, value = override.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"--set '{override}' is not KEY=VALUE", hint="e.g. --set data.train_samples=500")
    target = data
    *parents, last = key.strip().split(".")
    for name in parents:
        child = target.setdefault(name, {})
        if not isinstance(child, dict):
            raise RecipeError(f"--set {key}: '{name}' is not a section", hint="set a key inside a section")
        target = child
    try:
        target[last] = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise RecipeError(
            f"--set '{override}': the value is not valid YAML: {_problem(exc)}",
            hint="write the value as in the recipe, e.g. --set 'data.train_samples=500' or 'key=[a, b]'",
        ) from exc


def _problem(exc: yaml.YAMLError) -> str:
    """What the YAML parser objects to, in one line."""
    return getattr(exc, "problem", None) or str(exc).splitlines()[0]


def _recipe_error(exc: ValidationError, path: Path, lines: LineIndex, overrides: list[str]) -> RecipeError:
    """The first validation problem as `file:line: field: message` (or the --set that caused it)."""
    first = exc.errors()[0]
    location = tuple(first["loc"])
    field = ".".join(str(part) for part in location)
    line = next((lines[location[:n]] for n in range(len(location), 0, -1) if location[:n] in lines), None)
    where = f"{path}:{line}" if line is not None else str(path)
    override = next(
        (o for o in reversed(overrides) if f"{field}.".startswith(o.partition("=")[0] + ".")), None
    )
    if override is not None:
        where = f"{path} (--set {override})"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] not in ("missing", "extra_forbidden", "value_error"):
        message += f" (got {first['input']!r})"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    if not field:  # a rule across sections: its message names them
        return RecipeError(f"{where}: {message}{more}", hint="make the sections the message names agree")
    return RecipeError(f"{where}: {field}: {message}{more}", hint=_hint(first["type"], field))


def _hint(error_type: str, field: str) -> str:
    if error_type == "extra_forbidden":
        return f"'{field}' is not a recipe key; see `edgeship run --help` and examples/ for the keys"
    if error_type == "missing":
        return f"add {field} to the recipe"
    return f"fix {field} in the recipe"
