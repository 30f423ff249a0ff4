"""Typed step options: one declaration per option, from which the CLI flag, the recipe key, the Python
argument and the manifest's `produced_by` record are all derived."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from edgeship.errors import EdgeshipError

Narrowed = TypeVar("Narrowed", bound="StepOptions")


class StepOptions(BaseModel):
    """Options of one step: unknown keys are errors, values are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def narrow(self, model: type[Narrowed]) -> Narrowed:
        """The fields of `model` (a base of this class) that were set here, as a `model`."""
        return model(
            **{name: getattr(self, name) for name in self.model_fields_set & set(model.model_fields)}
        )


def one_of(what: str, names: Callable[[], Iterable[str]]) -> AfterValidator:
    """A validator that accepts the names a registry holds now (looked up at validation time)."""

    def check(value: str) -> str:
        known = sorted(names())
        if value not in known:
            raise ValueError(f"unknown {what} '{value}' (choose from: {', '.join(known)})")
        return value

    return AfterValidator(check)


def cli(*flags: str, argument: bool = False, internal: bool = False) -> dict[str, Any]:
    """Field metadata for the generated CLI: its flags (default `--field-name`), a positional argument,
    or an internal field that is set by code and never shown as a flag or recorded."""
    return {"cli": {"flags": list(flags), "argument": argument, "internal": internal}}


def cli_settings(field: Any) -> dict[str, Any]:
    """The `cli(...)` metadata of a pydantic FieldInfo (empty defaults when it has none)."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    settings = extra.get("cli") or {}
    return {"flags": [], "argument": False, "internal": False, **settings}  # type: ignore[dict-item]


def internal_fields(model: type[BaseModel]) -> set[str]:
    """Names of the fields set by code, not by users."""
    return {name for name, field in model.model_fields.items() if cli_settings(field)["internal"]}


def flag_of(model: type[BaseModel], name: str) -> str:
    """How a user spells field `name` on the command line."""
    field = model.model_fields.get(name)
    flags = cli_settings(field)["flags"] if field is not None else []
    long_flags = [flag for flag in flags if flag.startswith("--")]
    return long_flags[0] if long_flags else "--" + name.replace("_", "-")


def validate_options(model: type[StepOptions], values: dict[str, Any], command: str) -> Any:
    """`model` validated from `values`, a failure raised as one line that names the flag."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise options_error(exc, model, command) from exc


def options_error(exc: ValidationError, model: type[BaseModel], command: str) -> EdgeshipError:
    """The first validation problem as `--flag: message (got value)`."""
    first = exc.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    if not first["loc"]:
        return EdgeshipError(message, hint=f"see `edgeship {command} --help`")
    option = flag_of(model, str(first["loc"][0]))
    got = "" if first["type"] in ("missing", "value_error") else f" (got {_shown(first['input'])})"
    return EdgeshipError(f"{option}: {message}{got}", hint=f"see `edgeship {command} --help` for {option}")


def _shown(value: Any) -> str:
    return repr(str(value)) if isinstance(value, Path) else repr(value)
