"""`multistore health`, `serve`, `logs` and `errors`: composed by cli/app.py; no Prefect."""

from __future__ import annotations

import logging
import re
import socket
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from multistore.cli_output import console, emit_json, fail, local_time, table
from multistore.health import UNAVAILABLE, check_health
from multistore.prefect_api import PrefectAPI, PrefectUnavailable
from multistore.registry import Registry, UnknownStoreError
from multistore.trends import group_errors

DEFAULT_PORT = 8780
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """'30m', '2h', '7d' before `now`, or an ISO date/time (UTC when it has no zone)."""
    if value is None:
        return None
    text = value.strip().lower()
    match = _DURATION.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"--since: {value!r} is neither a duration (30m, 2h, 7d) nor an ISO date/time"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


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


def logs(
    store_id: Annotated[str, typer.Argument(metavar="STORE", help="The store's id.")],
    since: Annotated[
        str | None, typer.Option(help="Only from then: 30m, 2h, 7d or an ISO date/time.")
    ] = None,
    runs: Annotated[int, typer.Option(min=1, help="From the store's last N runs.")] = 5,
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most N lines.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """A store's recent log lines, from the Prefect server (its runs' flow runs)."""
    try:
        start = parse_since(since, datetime.now(UTC))
        history = Registry().history(store_id, limit=runs)
    except (ValueError, UnknownStoreError) as exc:
        fail(str(exc))
    flow_runs = {
        r.flow_run_id: r.id
        for r in history
        if r.flow_run_id and (start is None or (r.finished_at or start) >= start)
    }
    records: list[dict[str, Any]] = []
    if flow_runs:
        try:
            records = PrefectAPI().logs(list(flow_runs), since=start, limit=limit)
        except PrefectUnavailable as exc:
            fail(str(exc))
    lines = [
        {
            "timestamp": r["timestamp"],
            "level": logging.getLevelName(r["level"]),
            "store_id": store_id,
            "flow_run_id": r["flow_run_id"],
            "task_run_id": r.get("task_run_id"),
            "logger": r["name"],
            "message": r["message"],
        }
        for r in records
    ]
    if as_json:
        emit_json(lines)
        return
    if not lines:
        when = f" since {start.isoformat()}" if start else ""
        console.print(f"{store_id}: no log lines{when}")
    for line in lines:
        console.print(
            f"{line['timestamp']} {line['level']:<7} {store_id} {line['flow_run_id'][:8]} "
            f"{line['message']}",
            markup=False,
            highlight=False,
        )


def errors(
    since: Annotated[
        str | None, typer.Option(help="Only from then: 30m, 2h, 7d or an ISO date/time.")
    ] = "7d",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Failed runs' errors across stores, grouped by a normalised message, most frequent first."""
    try:
        start = parse_since(since, datetime.now(UTC))
    except ValueError as exc:
        fail(str(exc))
    groups = group_errors(Registry().failed_runs(since=start))
    if as_json:
        emit_json(groups)
        return
    if not groups:
        console.print("no failed runs" + (f" since {start.isoformat()}" if start else ""))
        return
    table(
        None,
        ["count", "stores", "last seen", "error"],
        [
            [g["count"], ", ".join(g["stores"]), local_time(g["last_seen"]), g["error"]]
            for g in groups
        ],
    )


def _print_health(data: dict) -> None:
    console.print(f"status: {data['status']}")
    for reason in data["reasons"]:
        console.print(f"  {reason}")
    for warning in data.get("warnings", []):
        console.print(f"  warning: {warning}")
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
                "systems not answering",
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
                    ", ".join(k for k, v in s.get("systems", {}).items() if not v["answers"])
                    or "-",
                ]
                for s in data["stores"]
            ],
        )
    if data["systems"]:
        table(
            "outside systems",
            ["url", "answers", "detail", "roles", "stores"],
            [
                [
                    s["url"],
                    "yes" if s["answers"] else "NO",
                    s["detail"],
                    ", ".join(s["roles"]),
                    s["stores"],
                ]
                for s in data["systems"]
            ],
        )


def register(app: typer.Typer) -> None:
    app.command("health")(health)
    app.command("serve")(serve)
    app.command("logs")(logs)
    app.command("errors")(errors)
