"""The ``ssgateway`` command line. Each command group lives in its own module and registers here."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer
from rich.markup import escape

from ssgateway._version import __version__
from ssgateway.cli._common import console_err
from ssgateway.errors import SSGatewayError

__all__ = ["app", "main"]

app = typer.Typer(
    name="ssgateway",
    help="Integration gateway for social-security data exchange.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ssgateway {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Integration gateway for social-security data exchange."""


# Every command module (``_<name>.py`` with a ``register(app)`` function) adds its commands itself, so a
# new command group needs no edit here.
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("_") and not _info.name.startswith("__") and _info.name != "_common":
        importlib.import_module(f"{__name__}.{_info.name}").register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the command line; ssgateway errors print as one clear line and exit with status 1."""
    try:
        app(args=argv, prog_name="ssgateway")
    except SSGatewayError as exc:
        console_err.print(f"[red]error[/red] {escape(f'[{exc.code}]')}: {escape(exc.message)}")
        sys.exit(1)
