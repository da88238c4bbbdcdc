"""`multistore sandbox`: serve the simulated vendors (plugged into the multistore CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def sandbox(
    host: Annotated[str, typer.Option(help="Interface to bind (keep it loopback)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on")] = 8765,
    stores: Annotated[int | None, typer.Option(help="How many ids /admin/stores lists")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of all generated data and faults")] = None,
    faults: Annotated[Path | None, typer.Option(help="YAML/JSON file of faults to inject")] = None,
    contacts: Annotated[int | None, typer.Option(help="CRM contacts per store")] = None,
    vehicles: Annotated[int | None, typer.Option(help="Vehicles per store")] = None,
) -> None:
    """Serve the sandbox vendors (CRM, DNC scrub, inventory feeds, VDPs, shortener)."""
    from sandbox.config import SandboxConfig, load_faults
    from sandbox.server import serve

    try:
        config = SandboxConfig.from_env(
            stores=stores,
            seed=seed,
            contacts_per_store=contacts,
            vehicles_per_store=vehicles,
            faults=load_faults(faults) if faults else None,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"sandbox on http://{host}:{port} (seed {config.seed}); Ctrl-C stops it")
    serve(config, host=host, port=port)


def register(app: typer.Typer) -> None:
    app.command("sandbox")(sandbox)


def main() -> None:
    cli = typer.Typer(add_completion=False)
    cli.command()(sandbox)
    cli()
