"""The `flopwise` command: sub-commands are registered here; each lives in its own module."""

from __future__ import annotations

import sys

import typer

from flopwise.errors import FlopwiseError

app = typer.Typer(
    name="flopwise",
    help="What will this take? FLOPs, memory, parallel layout, time and cost of training and serving AI models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from flopwise import __version__

        typer.echo(f"flopwise {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """What will this take? FLOPs, memory, parallel layout, time and cost of training and serving AI models."""


def _register() -> None:
    from flopwise.cli import catalog_cmds, train_cmd, validate_cmd

    catalog_cmds.register(app)
    train_cmd.register(app)
    validate_cmd.register(app)
    # optional command groups, each in its own module (registered if present)
    import importlib

    for name in ("serve_cmd", "scale_cmd", "economics_cmd", "fleet_cmd", "web_cmd"):
        try:
            mod = importlib.import_module(f"flopwise.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"flopwise.cli.{name}":
                continue
            raise
        mod.register(app)


_register()


def _exception_types(name: str) -> tuple[type, ...]:
    """The click exception class `name` from click and from typer's vendored copy (typer >= 0.20)."""
    found = []
    for modname in ("click.exceptions", "typer._click.exceptions", "typer._click"):
        try:
            mod = __import__(modname, fromlist=[name])
        except ImportError:
            continue
        cls = getattr(mod, name, None)
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


_CLICK_ERRORS = _exception_types("ClickException")
_ABORTS = _exception_types("Abort")
_EXITS = _exception_types("Exit")


def run() -> None:
    """Entry point: user errors become one line on stderr and exit status 2, never a traceback."""
    try:
        app(standalone_mode=False)
    except FlopwiseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except _ABORTS:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except _CLICK_ERRORS as exc:
        # usage errors (unknown option, missing argument, bad type): one line, exit 2
        msg = exc.format_message().splitlines()[0] if exc.format_message() else str(exc)
        print(f"error: {msg}", file=sys.stderr)
        sys.exit(2)
    except _EXITS as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    run()
