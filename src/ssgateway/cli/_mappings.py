"""``ssgateway mappings``: list, check and test mappings; print the language's JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ssgateway.cli._common import console, console_err
from ssgateway.errors import SSGatewayError
from ssgateway.mapping import MappingCatalog, MappingSpec, compile_spec, load_spec, run_examples

mappings_app = typer.Typer(help="Declarative mappings and code lists.", no_args_is_help=True)

DirsOption = typer.Option([], "--mappings-dir", help="Extra directory of mappings (repeatable).")


def _paths(paths: list[Path], catalog: MappingCatalog) -> list[Path]:
    if not paths:
        return catalog.mapping_paths()
    found: list[Path] = []
    for path in paths:
        found.extend(
            sorted(p for p in path.rglob("*.yaml") if "codelists" not in p.parts) if path.is_dir() else [path]
        )
    return found


@mappings_app.command("list")
def list_mappings(mappings_dir: list[Path] = DirsOption) -> None:
    """List the mappings found (shipped ones last) with their direction, format and entity."""
    catalog = MappingCatalog(mappings_dir)
    table = Table("mapping", "direction", "format", "entity", "file")
    for ref, mf in sorted(catalog.files.items()):
        table.add_row(ref, mf.spec.direction, mf.spec.format, mf.spec.entity, str(mf.path))
    console.print(table)
    console.print(f"{len(catalog.files)} mappings, {len(catalog.codelists)} code lists")


@mappings_app.command("check")
def check(
    paths: list[Path] = typer.Argument(
        None, help="Mapping files or directories (default: every known mapping)."
    ),
    mappings_dir: list[Path] = DirsOption,
) -> None:
    """Validate and compile mappings; each problem is printed as file:line: key: reason."""
    catalog = MappingCatalog(mappings_dir)
    failures = 0
    targets = _paths(paths or [], catalog)
    for path in targets:
        try:
            compile_spec(load_spec(path), catalog)
        except SSGatewayError as exc:
            failures += 1
            console_err.print(f"[red]✗[/red] {escape(exc.message)}")
        else:
            console.print(f"[green]✓[/green] {escape(str(path))}")
    if failures:
        console_err.print(f"{failures} of {len(targets)} mappings have problems")
        raise typer.Exit(1)


@mappings_app.command("test")
def test(
    paths: list[Path] = typer.Argument(
        None, help="Mapping files or directories (default: every known mapping)."
    ),
    mappings_dir: list[Path] = DirsOption,
) -> None:
    """Run every mapping's examples; a mismatch prints what differs and exits non-zero."""
    catalog = MappingCatalog(mappings_dir)
    failed = passed = 0
    for path in _paths(paths or [], catalog):
        try:
            compiled = compile_spec(load_spec(path), catalog)
        except SSGatewayError as exc:
            failed += 1
            console_err.print(f"[red]✗[/red] {escape(exc.message)}")
            continue
        for result in run_examples(compiled):
            label = f"{compiled.spec.ref}: {result.name}"
            if result.ok:
                passed += 1
                console.print(f"[green]✓[/green] {escape(label)}")
            else:
                failed += 1
                console_err.print(f"[red]✗[/red] {escape(label)} ({path})")
                for problem in result.problems:
                    console_err.print(f"    {escape(problem)}")
    console.print(f"{passed} examples passed, {failed} failed")
    if failed:
        raise typer.Exit(1)


@mappings_app.command("schema")
def schema(output: Path | None = typer.Option(None, "-o", "--output", help="Write to this file.")) -> None:
    """Print (or write) the JSON Schema of mapping files, for editors."""
    text = json.dumps(MappingSpec.model_json_schema(by_alias=True), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


def register(app: typer.Typer) -> None:
    """Add the command group to the root command."""
    app.add_typer(mappings_app, name="mappings")
