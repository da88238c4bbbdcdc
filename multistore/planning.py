"""Which stores run now, in what order, and why the others do not.

A store is selected when it is enabled, not quarantined and inside its processing window (an
ad hoc re-run may ignore windows; disabled and quarantined stores are skipped all the same). The
selected run HIGH → MEDIUM → LOW, and within a priority the least recently run first (never run
comes before everything), then by id so the order is stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from multistore.config import Priority
from multistore.registry import Store, UnknownStoreError
from multistore.windows import format_window, is_open, next_open, zone

DISABLED = "disabled"
QUARANTINED = "quarantined"
OUTSIDE_WINDOW = "outside window"
ALREADY_RUNNING = "already running"
# What overrides a closed window, named in the skip so that people need not look it up.
WINDOW_OVERRIDE = "--ignore-windows (ignore_windows=true) runs it now"


@dataclass(frozen=True)
class Skip:
    store_id: str
    reason: str  # DISABLED, QUARANTINED, OUTSIDE_WINDOW or ALREADY_RUNNING
    next_open: datetime | None = None  # in the store's zone, for OUTSIDE_WINDOW
    detail: str = ""  # for people: the quarantine reason, the window and its zone


@dataclass(frozen=True)
class Plan:
    selected: list[Store] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    @property
    def selected_ids(self) -> list[str]:
        return [store.id for store in self.selected]


def plan(
    stores: Iterable[Store],
    now: datetime,
    *,
    only_ids: Sequence[str] | None = None,
    priority: Priority | str | None = None,
    region: str | None = None,
    ignore_windows: bool = False,
    running: Mapping[str, str] | None = None,
) -> Plan:
    """The plan at `now` (aware) for `stores`, narrowed to `only_ids`, `priority`, `region`.

    `running` maps the stores whose lease is held now to the one line saying so (they are skipped
    as ALREADY_RUNNING whatever the windows).

    Stores the filters leave out are neither selected nor skipped. An id in `only_ids` that is
    not among `stores` raises UnknownStoreError.
    """
    if now.tzinfo is None:
        raise ValueError(f"now: {now.isoformat()} has no time zone")
    candidates = list(stores)
    if only_ids is not None:
        known = {s.id for s in candidates}
        for store_id in only_ids:
            if store_id not in known:
                raise UnknownStoreError(store_id)
        wanted = set(only_ids)
        candidates = [s for s in candidates if s.id in wanted]
    if priority is not None:
        wanted_priority = Priority.parse(priority)
        candidates = [s for s in candidates if Priority.parse(s.priority) == wanted_priority]
    if region is not None:
        candidates = [s for s in candidates if s.region == region]

    selected: list[Store] = []
    skipped: list[Skip] = []
    for store in candidates:
        skip = _why_not(store, now, ignore_windows=ignore_windows)
        if skip is None and running and store.id in running:
            skip = Skip(store.id, ALREADY_RUNNING, detail=running[store.id])
        if skip is None:
            selected.append(store)
        else:
            skipped.append(skip)
    selected.sort(key=_run_order)
    skipped.sort(key=lambda s: s.store_id)
    return Plan(selected=selected, skipped=skipped)


def _why_not(store: Store, now: datetime, *, ignore_windows: bool) -> Skip | None:
    if not store.enabled:
        return Skip(store.id, DISABLED)
    if store.quarantined_at is not None:
        return Skip(store.id, QUARANTINED, detail=store.quarantine_reason or "")
    if ignore_windows:
        return None
    if not is_open(store.window_start, store.window_end, store.timezone, now):
        tz = zone(store.timezone)
        opens = next_open(store.window_start, store.window_end, tz, now).astimezone(tz)
        window = format_window(store.window_start, store.window_end)
        return Skip(
            store.id,
            OUTSIDE_WINDOW,
            opens,
            detail=f"window {window} {store.timezone}; opens {opens:%Y-%m-%d %H:%M %Z}; "
            f"{WINDOW_OVERRIDE}",
        )
    return None


_NEVER = datetime.min.replace(tzinfo=UTC)


def _run_order(store: Store) -> tuple[int, datetime, str]:
    return (Priority.parse(store.priority).rank, store.last_run_at or _NEVER, store.id)
