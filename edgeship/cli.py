"""The `edgeship` command line: a typer app whose commands register themselves from edgeship.commands."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import typer

from edgeship.errors import EdgeshipError, disk_error
from edgeship.version import __version__

app = typer.Typer(
    name="edgeship",
    help="Compress, export, benchmark and ship transformers to edge devices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
_debug = {"enabled": False}
INTERRUPTED = (
    "interrupted: finished steps and bundles are kept; the step that was running left nothing behind "
    "(run the command again to continue)"
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"edgeship {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Show the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """edgeship: compress, export, benchmark and ship transformers to edge devices."""
    _debug["enabled"] = debug


def register_commands() -> None:
    """Import every module in edgeship.commands; each adds its commands to `app`."""
    import edgeship.commands as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}").register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, printing edgeship errors as one line with a hint."""
    # torchao (a litert-torch dependency) registers enums with torch's pytree at import; torch warns per enum
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        register_commands()  # imports the commands' modules: a Ctrl-C here is an interrupt like any other
        app(args=argv, prog_name="edgeship")
    except EdgeshipError as exc:
        if debug:
            raise
        typer.echo(exc.one_line(), err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo(INTERRUPTED, err=True)
        sys.exit(130)
    except SystemExit as exc:
        if exc.code == 130:  # typer turns Ctrl-C into a silent exit 130
            typer.echo(INTERRUPTED, err=True)
        raise
    except Exception as exc:
        if debug:
            raise
        known = disk_error(exc)
        if known is not None:
            typer.echo(known.one_line(), err=True)
            sys.exit(known.exit_code)
        message = str(exc).splitlines()[0] if str(exc) else ""
        typer.echo(
            f"error: internal error {type(exc).__name__}: {message} (hint: re-run with --debug and report it)",
            err=True,
        )
        sys.exit(2)
