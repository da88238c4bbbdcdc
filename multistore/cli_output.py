"""How the CLI shows things: rich tables for people, JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from multistore.windows import zone

# Piped output keeps whole lines (80 columns would fold ids and zones); a terminal sets its width.
console = Console(width=None if sys.stdout.isatty() else 200)


# Set when the command line asks for --json: errors then go to stderr as JSON too, so a script
# reading `--json` output never has to parse an English line.
_json_errors = False


def json_errors(on: bool) -> None:
    """Errors from now on as `{"error": "..."}` (True) or `error: ...` (False), on stderr."""
    global _json_errors
    _json_errors = on


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def error_line(message: object) -> str:
    """An error as the one line written on stderr (JSON when the command line has --json)."""
    first = " ".join(str(message).split())
    return json.dumps({"error": first}) if _json_errors else f"error: {first}"


def fail(message: str) -> NoReturn:
    """Exit 1 with one line on stderr."""
    sys.stderr.write(error_line(message) + "\n")
    raise typer.Exit(1)


def local_time(value: str | datetime | None, tz: str | None = None) -> str:
    """An ISO instant as 'YYYY-MM-DD HH:MM ZZZ' in `tz` (UTC by default); '-' for None."""
    if value is None:
        return "-"
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if tz is not None:
        instant = instant.astimezone(zone(tz))
    return instant.strftime("%Y-%m-%d %H:%M %Z").strip()


# Free text may wrap; ids, zones, states and times never do.
_WRAPS = {"name", "detail", "reason", "error"}


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    out = Table(title=title, title_justify="left", show_lines=False)
    for name in columns:
        out.add_column(name, no_wrap=name not in _WRAPS, overflow="fold")
    for row in rows:
        out.add_row(*("-" if cell is None else str(cell) for cell in row))
    console.print(out)


def store_rows(rows: list[dict[str, Any]]) -> None:
    """The store table of `list` and `status`, from multistore.status.store_row dicts."""
    table(
        None,
        ["id", "name", "priority", "state", "window", "zone", "open", "region", "last run"],
        [
            [
                r["id"],
                r["name"],
                r["priority"],
                r["state"],
                r["window"],
                r["timezone"],
                "yes" if r["window_open"] else "no",
                r["region"],
                _last_run(r),
            ]
            for r in rows
        ],
    )


def _last_run(row: dict[str, Any]) -> str:
    last = row.get("last_run")
    if last is None:
        return local_time(row.get("last_run_at"))
    when = last["finished_at"] or last["started_at"]
    return f"{last['status']} {local_time(when)}"
