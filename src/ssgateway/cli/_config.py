"""``ssgateway config``: check a configuration file, print its JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ssgateway.cli._common import console
from ssgateway.config import GatewayConfig, load_config, validate_adapter_configs
from ssgateway.registry import default_registry

config_app = typer.Typer(help="Gateway configuration files.", no_args_is_help=True)


@config_app.command("check")
def check(path: Path = typer.Argument(..., help="The configuration file.")) -> None:
    """Validate a configuration file, adapters' own settings included; errors name file, line and key."""
    config = load_config(path)
    validate_adapter_configs(config, default_registry())
    console.print(f"{path}: ok ({len(config.partners)} partners, store {config.store.url.split(':', 1)[0]})")


@config_app.command("schema")
def schema(output: Path | None = typer.Option(None, "-o", "--output", help="Write to this file.")) -> None:
    """Print (or write) the JSON Schema of the configuration file, for editors."""
    text = json.dumps(GatewayConfig.model_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


def register(app: typer.Typer) -> None:
    """Add the command group to the root command."""
    app.add_typer(config_app, name="config")
