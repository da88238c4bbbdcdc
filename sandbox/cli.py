"""`multistore sandbox`: serve the simulated vendors (plugged into the multistore CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def sandbox(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind [default: from MULTISTORE_SANDBOX_URL]")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port [default: from MULTISTORE_SANDBOX_URL, 8765]")
    ] = None,
    stores: Annotated[int | None, typer.Option(help="How many ids /admin/stores lists")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of all generated data and faults")] = None,
    faults: Annotated[Path | None, typer.Option(help="YAML/JSON file of faults to inject")] = None,
    contacts: Annotated[int | None, typer.Option(help="CRM contacts per store")] = None,
    vehicles: Annotated[int | None, typer.Option(help="Vehicles per store")] = None,
) -> None:
    """Serve the sandbox vendors (CRM, DNC scrub, inventory feeds, VDPs, shortener)."""
    from urllib.parse import urlsplit

    from multistore.settings import get_settings
    from sandbox.config import SandboxConfig, load_faults
    from sandbox.server import serve

    # Where the pipelines will look for it, unless told otherwise.
    where = urlsplit(get_settings().sandbox_url)
    host = host or where.hostname or "127.0.0.1"
    port = port or where.port or 8765

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
