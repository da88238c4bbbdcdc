"""The `multistore` command: the store registry from a terminal or a script.

Every verb prints a table for people and JSON with `--json`. Bad input exits 1 with one line on
stderr naming the field. This module holds the registry's own verbs; the `multistore` command
is composed in cli/app.py, which adds each part's verbs and attaches the Prefect side of `run` and
`status` (`attach_runs`), so the core names no module it does not import.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, Protocol, TypeVar

import typer
from typer.core import TyperGroup

try:  # Typer ≥ 0.25 carries its own copy of click.
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older Typer on real click
    from click.exceptions import ClickException

from multistore import store_events, trends
from multistore.cli_output import (
    console,
    emit_json,
    error_line,
    fail,
    json_errors,
    local_time,
    store_rows,
    table,
)
from multistore.config import ConfigError, Priority, dump_store_file, load_store_file
from multistore.db import DatabaseUnavailable
from multistore.planning import Plan, plan
from multistore.registry import Registry, RegistryError, UnknownStoreError
from multistore.run_options import check_region
from multistore.status import run_row, status, store_row
from multistore.windows import format_window

F = TypeVar("F", bound=Callable[..., Any])


class Runs(Protocol):
    """The Prefect side of `run` and `status` (flows/cli_run.py), attached by the composition."""

    def run_stores_cli(
        self,
        *,
        stores: list[str] | None,
        priority: str | None,
        region: str | None,
        as_json: bool,
        **options: Any,
    ) -> int | None: ...

    def watch_status(self) -> None: ...

    def watch_run(self, run: str) -> int: ...

    def last_report_summary(self) -> Any: ...

    def print_last_report(self) -> None: ...


_runs: Runs | None = None


def attach_runs(runs: Runs | None) -> None:
    """Give `run` its parent flow and `status` its reports; None: the registry alone."""
    global _runs
    _runs = runs


class _OneLineErrors(TyperGroup):
    """One line and exit code 1 for usage errors and registry errors of every verb."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        argv = args[0] if args and args[0] is not None else kwargs.get("args") or sys.argv[1:]
        json_errors("--json" in argv)
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except ClickException as exc:
            message = " ".join(exc.format_message().split())
            if not message:  # bare `multistore`: the help was the answer
                sys.exit(0)
            _exit_with(message)
        except (ConfigError, RegistryError, UnknownStoreError, DatabaseUnavailable) as exc:
            _exit_with(exc)
        except typer.Abort:
            _exit_with("aborted")
        sys.exit(result if isinstance(result, int) else 0)


def _exit_with(message: object) -> NoReturn:
    sys.stderr.write(error_line(message) + "\n")
    sys.exit(1)


app = typer.Typer(
    cls=_OneLineErrors,
    help="Run the same pipeline for many stores: the store registry and its runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
StoreArg = Annotated[str, typer.Argument(metavar="STORE", help="The store's id.")]
CapOption = Annotated[
    list[str] | None,
    typer.Option(
        metavar="POOL=N",
        help="At most N slots of a shared pool held by the store at once (e.g. browser=1, "
        "api:dnc=2); repeatable.",
    ),
]
MaxJobsOption = Annotated[
    int | None, typer.Option(min=1, help="At most this many of the store's jobs at once.")
]


def one_line_errors(func: F) -> F:
    """Known errors become `error: <one line>` and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (
            ConfigError,
            RegistryError,
            UnknownStoreError,
            DatabaseUnavailable,
            ValueError,
        ) as exc:
            fail(str(exc))

    return wrapper  # type: ignore[return-value]


def _now() -> datetime:
    return datetime.now(UTC)


def _answer(as_json: bool, data: Any, message: str) -> None:
    """A verb's one answer: `data` as JSON for scripts, or `message` for people."""
    if as_json:
        emit_json(data)
    else:
        console.print(message)


def _changed(store_id: str, as_json: bool, message: str) -> None:
    """The answer of a verb that changed a store: the store as it is now, read back."""
    _answer(as_json, store_row(Registry().get(store_id), _now()), message)


@app.command("list")
@one_line_errors
def list_stores(
    active: Annotated[
        bool, typer.Option("--active", help="Only stores due now: enabled, not quarantined, open.")
    ] = False,
    quarantined: Annotated[
        bool, typer.Option("--quarantined", help="Only quarantined stores.")
    ] = False,
    priority: Annotated[str | None, typer.Option(help="Only this priority.")] = None,
    region: Annotated[str | None, typer.Option(help="Only this region.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The stores, sorted by id."""
    if active and quarantined:
        raise ConfigError("--active and --quarantined exclude each other")
    if priority is not None:
        priority = _priority(priority)
    registry = Registry()
    now = _now()
    stores = registry.list(
        quarantined=True if quarantined else None, priority=priority, region=region
    )
    if active:  # the parent flow's own rule: enabled, not quarantined, window open
        due = set(plan(stores, now).selected_ids)
        stores = [s for s in stores if s.id in due]
    last_runs = registry.last_runs()
    rows = [store_row(s, now, last_runs.get(s.id)) for s in stores]
    if as_json:
        emit_json(rows)
    elif rows:
        store_rows(rows)
    else:
        console.print("no stores")


@app.command()
@one_line_errors
def add(
    store_id: Annotated[str, typer.Option("--id", help="Lowercase letters, digits, hyphens.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the id).")] = None,
    priority: Annotated[str, typer.Option(help="high, medium or low.")] = "medium",
    timezone: Annotated[str, typer.Option(help="IANA zone, e.g. America/Chicago.")] = "UTC",
    window: Annotated[
        str | None, typer.Option(help="HH:MM-HH:MM in the zone (may cross midnight).")
    ] = None,
    region: Annotated[str | None, typer.Option(help="e.g. west, central, east.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="A free-form tag; repeatable.")] = None,
    jobs: Annotated[
        str | None, typer.Option(help="Comma-separated jobs (default: all of them).")
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it disabled.")] = False,
    cap: CapOption = None,
    max_jobs: MaxJobsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a store."""
    store = Registry().add(
        store_id,
        name=name,
        priority=priority,
        enabled=not disabled,
        timezone=timezone,
        window=window,
        region=region,
        tags=tag or [],
        jobs=None if jobs is None else [j.strip() for j in jobs.split(",") if j.strip()],
        max_concurrent_jobs=max_jobs,
        pool_caps=_caps(cap),
    )
    _answer(as_json, store_row(store, _now()), f"added {store.id}")


def _caps(values: list[str] | None) -> dict[str, int]:
    """--cap POOL=N options as {pool: N}; which pools and caps are allowed is the store's check."""
    caps: dict[str, int] = {}
    for value in values or []:
        pool, equals, number = value.partition("=")
        try:
            caps[pool.strip()] = int(number)
        except ValueError:
            equals = ""
        if not equals or not pool.strip():
            raise ConfigError(f"--cap {value!r}: expected POOL=N, e.g. browser=1 or api:dnc=2")
    return caps


@app.command("set-caps")
@one_line_errors
def set_caps(
    store_id: StoreArg,
    cap: CapOption = None,
    uncap: Annotated[
        list[str] | None,
        typer.Option(help="Remove the store's cap on this pool (its size bounds it); repeatable."),
    ] = None,
    max_jobs: MaxJobsOption = None,
    no_max_jobs: Annotated[
        bool, typer.Option("--no-max-jobs", help="As many jobs at once as the graph allows.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Change a store's own caps: its share of a shared pool, its jobs at once."""
    if not cap and not uncap and max_jobs is None and not no_max_jobs:
        raise ConfigError("caps: give --cap, --uncap, --max-jobs or --no-max-jobs")
    changes: dict[str, int | None] = {**_caps(cap), **dict.fromkeys(uncap or [])}
    store = Registry().set_caps(
        store_id, caps=changes, max_concurrent_jobs=max_jobs, no_max_jobs=no_max_jobs
    )
    caps = ", ".join(f"{p}={n}" for p, n in (store.pool_caps or {}).items()) or "none"
    jobs = store.max_concurrent_jobs or "no limit"
    _changed(store_id, as_json, f"{store_id}: pool caps {caps}; jobs at once {jobs}")


@app.command()
@one_line_errors
def remove(store_id: StoreArg, as_json: JsonOption = False) -> None:
    """Remove a store and its run history."""
    Registry().remove(store_id)
    _answer(as_json, {"removed": store_id}, f"removed {store_id}")


@app.command()
@one_line_errors
def enable(store_id: StoreArg, as_json: JsonOption = False) -> None:
    """Enable a store."""
    Registry().enable(store_id)
    _changed(store_id, as_json, f"enabled {store_id}")


@app.command()
@one_line_errors
def disable(store_id: StoreArg, as_json: JsonOption = False) -> None:
    """Disable a store: runs skip it until it is enabled."""
    Registry().disable(store_id)
    _changed(store_id, as_json, f"disabled {store_id}")


@app.command()
@one_line_errors
def release(store_id: StoreArg, as_json: JsonOption = False) -> None:
    """Take a store out of quarantine (and reset its failure count)."""
    store = Registry().release(store_id)
    store_events.post([store_events.store_event("released", store)])  # best effort, for alerts
    _changed(store_id, as_json, f"released {store_id}")


@app.command("set-priority")
@one_line_errors
def set_priority(
    store_id: StoreArg,
    priority: Annotated[str, typer.Argument(metavar="PRIORITY", help="high, medium or low.")],
    as_json: JsonOption = False,
) -> None:
    """Change a store's priority."""
    store = Registry().set_priority(store_id, priority)
    _changed(store_id, as_json, f"{store_id}: priority {store.priority}")


@app.command("set-schedule")
@one_line_errors
def set_schedule(
    store_id: StoreArg,
    timezone: Annotated[str | None, typer.Option(help="IANA zone.")] = None,
    window: Annotated[str | None, typer.Option(help="HH:MM-HH:MM in the store's zone.")] = None,
    always: Annotated[bool, typer.Option("--always", help="No window: always open.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Change a store's zone and window; asks for them when run in a terminal without flags."""
    registry = Registry()
    if timezone is None and window is None and not always:
        if not sys.stdin.isatty():
            raise ConfigError("schedule: give --timezone, --window or --always")
        current = registry.get(store_id)
        timezone = typer.prompt("Time zone", default=current.timezone)
        answer = typer.prompt(
            "Window (HH:MM-HH:MM, or 'always')",
            default=format_window(current.window_start, current.window_end),
        )
        always = answer.strip().lower() == "always"
        window = None if always else answer
    store = registry.set_schedule(store_id, timezone=timezone, window=window, always=always)
    schedule = f"{format_window(store.window_start, store.window_end)} {store.timezone}"
    _changed(store_id, as_json, f"{store_id}: window {schedule}")


@app.command("status")
@one_line_errors
def show_status(
    as_json: JsonOption = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Refresh live: stores running and queued, pools.")
    ] = False,
) -> None:
    """Counts by state, the last run of each store, the quarantined, and the last run report."""
    reports = _runs
    if watch and reports is not None:
        reports.watch_status()
        return
    data = status(Registry(), _now())
    if as_json:
        if reports is not None:
            data["last_report"] = reports.last_report_summary()
        emit_json(data)
        return
    counts = data["counts"]
    console.print(
        f"{counts['total']} stores: {counts['enabled']} enabled, {counts['disabled']} disabled, "
        f"{counts['quarantined']} quarantined; {counts['window_open']} with the window open now, "
        f"{counts['due_now']} due now"
    )
    if data["stores"]:
        store_rows(data["stores"])
    scheduled = data["occurrences"]
    by_status = ", ".join(f"{n} {s}" for s, n in sorted(scheduled["by_status"].items()))
    console.print(
        f"occurrences due in the last 24 h: {by_status or 'none claimed'}; "
        f"{len(scheduled['running'])} stores running now"
    )
    if scheduled["missed"]:
        table(
            "missed (not completed while due)",
            ["store", "occurrence", "last error"],
            [[m["store_id"], m["occurrence"], m["error"] or ""] for m in scheduled["missed"]],
        )
    if data["quarantined"]:
        table(
            "quarantined",
            ["id", "since", "reason"],
            [[q["id"], local_time(q["since"]), q["reason"]] for q in data["quarantined"]],
        )
    if reports is not None:
        reports.print_last_report()


@app.command("watch")
@one_line_errors
def watch(
    run: Annotated[str, typer.Argument(help="The parent run's flow run id (or its first 8+).")],
) -> None:
    """Follow the store runs a parent run started (running, queued, finished with elapsed time
    and outcome, skipped and why) until it ends; exit 1 unless it completed."""
    if _runs is None:
        fail("watch: the parent flow is not installed yet")
    raise typer.Exit(_runs.watch_run(run))


@app.command()
@one_line_errors
def history(
    store_id: StoreArg,
    limit: Annotated[int, typer.Option(min=1, help="How many runs, newest first.")] = 20,
    trend: Annotated[
        bool, typer.Option("--trend", help="Success rate, durations and outcomes over time.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """A store's runs, newest first (or their trend, oldest first, with --trend)."""
    if trend:
        _print_trend(store_id, trends.trend(Registry().history(store_id, limit=limit)), as_json)
        return
    runs = [run_row(r) for r in Registry().history(store_id, limit=limit)]
    if as_json:
        emit_json(runs)
    elif not runs:
        console.print(f"{store_id}: no runs yet")
    else:
        table(
            f"runs of {store_id}",
            ["run", "flow run", "started", "finished", "seconds", "status", "error"],
            [
                [
                    r["id"],
                    r["flow_run_id"],
                    local_time(r["started_at"]),
                    local_time(r["finished_at"]),
                    r["duration_seconds"],
                    r["status"],
                    r["error"],
                ]
                for r in runs
            ],
        )


def _print_trend(store_id: str, data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json({"store_id": store_id, **data})
        return
    if not data["runs"]:
        console.print(f"{store_id}: no finished runs yet")
        return
    console.print(
        f"{store_id}: {data['completed']}/{data['runs']} runs completed "
        f"(success rate {data['success_rate']:.0%}), oldest first",
        markup=False,
    )
    console.print(f"  outcomes  {data['outcomes']}", markup=False)
    console.print(f"  durations {data['durations']}", markup=False)
    table(
        None,
        ["started", "status", "seconds"],
        [[local_time(r["started_at"]), r["status"], r["duration_seconds"]] for r in data["rows"]],
    )


@app.command()
@one_line_errors
def export(
    file: Annotated[Path, typer.Argument(help="YAML, or JSON when it ends in .json.")],
    as_json: JsonOption = False,
) -> None:
    """Write every store (with its quarantine state) to FILE, ready for `import`."""
    stores = Registry().export()
    dump_store_file(stores, file)
    exported = {"exported": len(stores), "file": str(file)}
    _answer(as_json, exported, f"exported {len(stores)} stores to {file}")


@app.command("import")
@one_line_errors
def import_(
    file: Annotated[Path, typer.Argument(help="YAML or JSON: a list, or {stores: [...]}.")],
    merge: Annotated[
        bool, typer.Option("--merge", help="Add and update; keep stores not in FILE.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Without --merge, also drop stores with run history.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Load stores from FILE, all or nothing. Without --merge FILE replaces the registry."""
    configs = load_store_file(file)
    summary = Registry().import_stores(configs, merge=merge, force=force)
    _answer(
        as_json,
        summary,
        f"imported {file}: {len(summary['added'])} added, {len(summary['updated'])} updated, "
        f"{len(summary['removed'])} removed",
    )


@app.command()
@one_line_errors
def run(
    stores: Annotated[
        str | None, typer.Option(help="Comma-separated store ids (default: all due).")
    ] = None,
    priority: Annotated[str | None, typer.Option(help="Only this priority.")] = None,
    region: Annotated[str | None, typer.Option(help="Only this region.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; run nothing.")
    ] = False,
    ignore_windows: Annotated[
        bool,
        typer.Option(
            "--ignore-windows",
            help="Also run stores whose window is closed (an ad hoc re-run); "
            "disabled and quarantined stores stay skipped.",
        ),
    ] = False,
    max_concurrent_stores: Annotated[
        int | None, typer.Option(min=1, help="Stores at once (default: the flow's).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the due stores (the parent flow), or print the plan with --dry-run."""
    only_ids = None if stores is None else [s.strip() for s in stores.split(",") if s.strip()]
    if priority is not None:
        priority = _priority(priority)
    check_region(region)  # the parent flow's choices (the nightly schedules' regions)
    registry = Registry()
    # The plan refuses an unknown store id here, before any flow run exists.
    the_plan = plan(
        registry.list(),
        _now(),
        only_ids=only_ids,
        priority=priority,
        region=region,
        ignore_windows=ignore_windows,
    )
    if not dry_run:
        if _runs is None:
            fail("run: the parent flow is not installed yet")
        options: dict[str, Any] = {"ignore_windows": ignore_windows}
        if max_concurrent_stores is not None:
            options["max_concurrent_stores"] = max_concurrent_stores
        code = _runs.run_stores_cli(
            stores=only_ids, priority=priority, region=region, as_json=as_json, **options
        )
        raise typer.Exit(code or 0)
    if as_json:
        emit_json(plan_json(the_plan))
    else:
        _print_plan(the_plan)


def plan_json(the_plan: Plan) -> dict[str, Any]:
    return {
        "selected": [
            {"order": i, "id": s.id, "priority": str(s.priority), "region": s.region}
            for i, s in enumerate(the_plan.selected, start=1)
        ],
        "skipped": [
            {
                "id": k.store_id,
                "reason": k.reason,
                "detail": k.detail,
                "next_open": None if k.next_open is None else k.next_open.isoformat(),
            }
            for k in the_plan.skipped
        ],
    }


def _print_plan(the_plan: Plan) -> None:
    if the_plan.selected:
        table(
            "would run, in this order",
            ["#", "id", "name", "priority", "region", "last run"],
            [
                [i, s.id, s.name, s.priority, s.region, local_time(s.last_run_at)]
                for i, s in enumerate(the_plan.selected, start=1)
            ],
        )
    else:
        console.print("no store would run now")
    if the_plan.skipped:
        table(
            "skipped",
            ["id", "reason", "detail", "next opening (store's zone)"],
            [
                [k.store_id, k.reason, k.detail, local_time(k.next_open) if k.next_open else None]
                for k in the_plan.skipped
            ],
        )


def _priority(value: str) -> str:
    try:
        return Priority.parse(value)
    except ValueError as exc:
        raise ConfigError(f"priority: {exc}") from None
