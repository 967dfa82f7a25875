"""``ssgateway keys``: make API keys for callers and the hashes the configuration stores."""

from __future__ import annotations

import typer

from ssgateway.server.auth import hash_key, new_key

keys_app = typer.Typer(help="API keys for callers of the sidecar.", no_args_is_help=True)


@keys_app.command("new")
def new() -> None:
    """Print a new random API key and the hash to put in the configuration's api_keys."""
    key = new_key()
    typer.echo(f"key:  {key}")
    typer.echo(f"hash: {hash_key(key)}")


@keys_app.command("hash")
def hash_(key: str = typer.Argument(..., help="An existing key.", envvar="SSGATEWAY_API_KEY")) -> None:
    """Print the configuration hash of an existing key."""
    typer.echo(hash_key(key))


def register(app: typer.Typer) -> None:
    """Add the command group to the root command."""
    app.add_typer(keys_app, name="keys")
