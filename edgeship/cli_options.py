"""Typer commands generated from step options models: each field becomes an argument or an option with
its type, default and help, and the values a user gives are validated by the model, once."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from edgeship.options import StepOptions, cli_settings, validate_options

Options = TypeVar("Options", bound=StepOptions)


def options_command(
    app: typer.Typer, model: type[Options], *, name: str | None = None
) -> Callable[[Callable[[Options], None]], Callable[[Options], None]]:
    """Register `function(options)` as the command `name`, its flags generated from `model`'s fields.

    Only the values a user typed are passed to the model, so its defaults and validators apply exactly
    as they do for a recipe section or a Python call."""

    def decorator(function: Callable[[Options], None]) -> Callable[[Options], None]:
        command = name or function.__name__.replace("_", "-")

        def run(ctx: typer.Context, **values: Any) -> None:
            given = {key: value for key, value in values.items() if _typed_by_user(ctx, key)}
            function(validate_options(model, given, command))

        parameters = [
            inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
            *(
                _parameter(field_name, model.model_fields[field_name])
                for field_name in _flag_order(model)
                if not cli_settings(model.model_fields[field_name])["internal"]
            ),
        ]
        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {}
        run.__doc__ = function.__doc__
        app.command(name=command)(run)
        return function

    return decorator


def _flag_order(model: type[BaseModel]) -> list[str]:
    """The command's own fields first (its arguments, --out, ...), then those of the models it extends."""
    own = [name for name in model.__annotations__ if name in model.model_fields]
    return own + [name for name in model.model_fields if name not in own]


def _typed_by_user(ctx: typer.Context, name: str) -> bool:
    """Whether the value of parameter `name` came from the command line (not its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"  # typer vendors click: compare by name


def _parameter(field_name: str, field: FieldInfo) -> inspect.Parameter:
    """The typer parameter for one model field."""
    settings = cli_settings(field)
    annotation, choices = _cli_type(field.annotation)
    help_text = field.description or ""
    if choices:
        help_text += f" [{' | '.join(choices)}]"
    default = _default(field)
    info: Any
    if settings["argument"]:
        info = typer.Argument(default, help=help_text, show_default=default is not ...)
    else:
        flags = settings["flags"] or [f"--{field_name.replace('_', '-')}"]
        if annotation is bool:
            flags = [f"{flags[0]}/--no-{flags[0].removeprefix('--')}", *flags[1:]]
        info = typer.Option(default, *flags, help=help_text, show_default=default not in (None, ...))
    return inspect.Parameter(field_name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation)


def _default(field: FieldInfo) -> Any:
    """What typer shows and returns when the flag is absent (the model applies the real default)."""
    if field.is_required():
        return ...
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        value = None if field.default is PydanticUndefined else field.default
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, BaseModel):
        return None
    return value


def _cli_type(annotation: Any) -> tuple[Any, list[str]]:
    """The type typer parses a field as, and its choices when it is a Literal (validated by the model)."""
    arguments = [arg for arg in get_args(annotation) if arg is not type(None)]
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner, choices = _cli_type(arguments[0]) if len(arguments) == 1 else (str, [])
        return inner | None, choices
    if origin is Literal:
        kinds = {type(arg) for arg in arguments}
        return (kinds.pop() if len(kinds) == 1 else str), [str(arg) for arg in arguments]
    if origin in (list, tuple):
        inner, choices = _cli_type(arguments[0])
        return list[inner], choices  # type: ignore[valid-type]
    if annotation in (str, int, float, bool, Path):
        return annotation, []
    return str, []
