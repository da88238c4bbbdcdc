"""`multistore health` and `multistore serve`: a plugin of multistore/cli.py; no Prefect here."""

from __future__ import annotations

import socket
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from multistore.cli_output import console, emit_json, fail, local_time, table
from multistore.health import UNAVAILABLE, check_health

DEFAULT_PORT = 8780


def health(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Overall status and each store's health; exit 1 when the registry or Prefect is down."""
    result = check_health(datetime.now(UTC))
    if as_json:
        emit_json(result.to_dict())
    else:
        _print_health(result.to_dict())
    if result.status == UNAVAILABLE:
        fail("; ".join(result.reasons))


def serve(
    host: Annotated[str, typer.Option(help="The address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="The port (0: any free).")] = (
        DEFAULT_PORT
    ),
) -> None:
    """Serve /health and /metrics (and the other areas' routes) over HTTP."""
    import uvicorn

    from multistore.service import create_app

    # Bound here, before uvicorn, so a port in use is one line and exit 1, not a traceback.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections queue from now on, before uvicorn accepts them
    except OSError as exc:
        sock.close()
        fail(f"serve: cannot listen on {host}:{port}: {exc.strerror or exc}")
    bound = sock.getsockname()[1]
    sys.stderr.write(f"multistore serve: http://{host}:{bound} (/health, /metrics)\n")
    config = uvicorn.Config(create_app(), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def _print_health(data: dict) -> None:
    console.print(f"status: {data['status']}")
    for reason in data["reasons"]:
        console.print(f"  {reason}")
    if data["stores"]:
        table(
            None,
            [
                "id",
                "enabled",
                "quarantined",
                "last success",
                "failures",
                "lag s",
                "circuits not closed",
            ],
            [
                [
                    s["id"],
                    "yes" if s["enabled"] else "no",
                    "yes" if s["quarantined"] else "no",
                    local_time(s["last_success_at"]),
                    s["consecutive_failures"],
                    s["lag_seconds"],
                    ", ".join(f"{k} {v}" for k, v in s["circuits"].items() if v != "closed")
                    or "closed",
                ]
                for s in data["stores"]
            ],
        )


def register(app: typer.Typer) -> None:
    app.command("health")(health)
    app.command("serve")(serve)
