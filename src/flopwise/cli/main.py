"""The `flopwise` command: sub-commands are registered here; each lives in its own module."""

from __future__ import annotations

import sys

import click
import typer

from flopwise.errors import FlopwiseError

app = typer.Typer(
    name="flopwise",
    help="What will this take? FLOPs, memory, parallel layout, time and cost of training and serving AI models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


def run() -> None:
    """Entry point: user errors become one line on stderr and exit status 2, never a traceback."""
    try:
        app(standalone_mode=False)
    except FlopwiseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        # usage errors (unknown option, missing argument, bad type): one line, exit 2
        msg = exc.format_message().splitlines()[0] if exc.format_message() else str(exc)
        print(f"error: {msg}", file=sys.stderr)
        sys.exit(exc.exit_code if exc.exit_code else 2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    run()
