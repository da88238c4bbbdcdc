"""Occurrences: each due execution of a store's work, with a stable identity.

A store's schedule yields three kinds, each due from an instant until another:

- **window** (a store with a processing window): one per window opening, identified by the local
  date it opened on (`window:2026-01-05`), due from the opening until the window closes. On a
  fall-back night a window inside the repeated hour opens twice on one date: that is one
  occurrence, due from the first opening until the last close, started only while the window is
  open;
- **day** (an always-open store, the default cadence): one per local calendar day
  (`day:2026-01-05`), due from local midnight to the next;
- **task** (a store's recurring task: a cron on the store's wall clock and a job list): one per
  fire time (`task:feed:2026-01-05T04:00`), due from the fire instant for the task's catch-up
  period. A fire time skipped by a spring-forward jump fires at the jump; one repeated by a
  fall-back fires once, at its first instant (the rule of `multistore.windows`).

Pure functions of the store and the clock: the tick (flows/tick.py) and the planner
(multistore/ticking.py) claim what these say is due.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from multistore.config import DEFAULT_CATCH_UP_MINUTES, Priority, TaskConfig
from multistore.crons import wall_fires
from multistore.models import Store
from multistore.windows import (
    bisect_transition,
    bounds_of,
    inside,
    transitions,
    wall_instants,
    zone,
)

WINDOW = "window"
DAY = "day"
TASK = "task"


@dataclass(frozen=True)
class Occurrence:
    store_id: str
    key: str  # unique within the store: the claim's identity
    kind: str  # WINDOW, DAY or TASK
    due_from: datetime  # UTC
    due_until: datetime  # UTC
    priority: Priority
    jobs: tuple[str, ...] | None = None  # None: the store's own jobs
    # A window occurrence on a fall-back night may have a gap (window closed) inside its due span.
    open_spans: tuple[tuple[datetime, datetime], ...] = ()

    def due_at(self, now: datetime) -> bool:
        if self.open_spans:
            return any(start <= now < end for start, end in self.open_spans)
        return self.due_from <= now < self.due_until

    @property
    def task(self) -> str | None:
        return self.key.split(":", 2)[1] if self.kind == TASK else None


def occurrences(store: Store, start: datetime, end: datetime) -> list[Occurrence]:
    """The store's occurrences whose due span meets [start, end), sorted by due_from."""
    found = _base(store, start, end)
    for task in _tasks(store):
        found.extend(task_occurrences(store, task, start, end))
    return sorted(found, key=lambda o: (o.due_from, o.key))


def _base(store: Store, start: datetime, end: datetime) -> list[Occurrence]:
    if store.window_start is None and store.window_end is None:
        return day_occurrences(store, start, end)
    return window_occurrences(store, start, end)


def _tasks(store: Store) -> list[TaskConfig]:
    # Validated when configured (multistore.config): read back without validating again.
    return [TaskConfig.model_construct(**t) for t in (store.tasks or [])]


def window_occurrences(store: Store, start: datetime, end: datetime) -> list[Occurrence]:
    bounds = bounds_of(store.window_start, store.window_end)
    assert bounds is not None
    zi = zone(store.timezone)
    first = start.astimezone(zi).date() - timedelta(days=2)
    last = end.astimezone(zi).date() + timedelta(days=1)
    by_date = _openings_by_date(bounds, zi, first, last)
    priority = Priority.parse(store.priority)
    found = []
    for day, day_spans in by_date:
        due_from, due_until = day_spans[0][0], day_spans[-1][1]
        if due_until <= start or due_from >= end:
            continue
        found.append(
            Occurrence(
                store.id,
                f"{WINDOW}:{day.isoformat()}",
                WINDOW,
                due_from,
                due_until,
                priority,
                open_spans=tuple(day_spans) if len(day_spans) > 1 else (),
            )
        )
    return found


@lru_cache(maxsize=16384)
def _openings_by_date(
    bounds: tuple[time, time], zi: tzinfo, first: date, last: date
) -> tuple[tuple[date, tuple[tuple[datetime, datetime], ...]], ...]:
    """The open spans grouped by the local date they opened on (cached like the spans)."""
    by_date: dict[date, list[tuple[datetime, datetime]]] = {}
    for span in _open_spans(bounds, zi, first, last):
        by_date.setdefault(span[0].astimezone(zi).date(), []).append(span)
    return tuple((day, tuple(spans)) for day, spans in by_date.items())


def _open_spans(
    bounds: tuple[time, time], zi: tzinfo, first: date, last: date
) -> tuple[tuple[datetime, datetime], ...]:
    """The [open, close) spans of a window whose opening lies between the dates (local)."""
    lo = datetime.combine(first, time(), UTC) - timedelta(days=1)
    hi = datetime.combine(last, time(), UTC) + timedelta(days=3)
    events: set[datetime] = set(_zone_transitions(zi, lo, hi))
    day = first - timedelta(days=1)
    while day <= last + timedelta(days=2):
        for t in bounds:
            events.update(wall_instants(day, t, zi))
        day += timedelta(days=1)
    ordered = sorted(events)
    spans = []
    was_open = inside(bounds, (ordered[0] - timedelta(seconds=1)).astimezone(zi).time())
    opened: datetime | None = None
    for instant in ordered:
        now_open = inside(bounds, instant.astimezone(zi).time())
        if now_open and not was_open:
            opened = instant
        elif was_open and not now_open and opened is not None:
            spans.append((opened, instant))
            opened = None
        was_open = now_open
    # Cached: stores share windows and zones, and consecutive ticks ask for the same dates.
    return tuple(s for s in spans if first <= s[0].astimezone(zi).date() <= last)


@lru_cache(maxsize=4096)
def _zone_transitions(zi: tzinfo, lo: datetime, hi: datetime) -> tuple[datetime, ...]:
    # Many stores share a zone and a tick's dates: the search runs once per zone and day.
    return tuple(transitions(zi, lo, hi))


def day_occurrences(store: Store, start: datetime, end: datetime) -> list[Occurrence]:
    zi = zone(store.timezone)
    priority = Priority.parse(store.priority)
    day = start.astimezone(zi).date() - timedelta(days=1)
    last = end.astimezone(zi).date()
    found = []
    while day <= last:
        due_from, due_until = _midnight(day, zi), _midnight(day + timedelta(days=1), zi)
        if due_until > start and due_from < end:
            found.append(
                Occurrence(store.id, f"{DAY}:{day.isoformat()}", DAY, due_from, due_until, priority)
            )
        day += timedelta(days=1)
    return found


def _midnight(day: date, zi: tzinfo) -> datetime:
    return _fire_instant(datetime.combine(day, time()), zi)


def task_occurrences(
    store: Store, task: TaskConfig, start: datetime, end: datetime
) -> list[Occurrence]:
    zi = zone(store.timezone)
    catch_up = timedelta(minutes=task.catch_up_minutes or DEFAULT_CATCH_UP_MINUTES)
    # Wall-clock bounds with a day's margin either side: offsets never exceed a day.
    after = (start - catch_up).astimezone(zi).replace(tzinfo=None) - timedelta(days=1)
    until = end.astimezone(zi).replace(tzinfo=None) + timedelta(days=1)
    priority = Priority.parse(store.priority)
    found = []
    for fire in _fires(task.cron, after, until):
        due_from = _fire_instant(fire, zi)
        due_until = due_from + catch_up
        if due_until <= start or due_from >= end:
            continue
        found.append(
            Occurrence(
                store.id,
                f"{TASK}:{task.name}:{fire:%Y-%m-%dT%H:%M}",
                TASK,
                due_from,
                due_until,
                priority,
                jobs=tuple(task.jobs),
            )
        )
    return found


def _fires(expr: str, after: datetime, until: datetime) -> list[datetime]:
    # By whole local days, cached: consecutive ticks ask for the same days again.
    fires: list[datetime] = []
    day = after.date()
    while day <= until.date():
        fires.extend(f for f in _day_fires(expr, day) if after < f <= until)
        day += timedelta(days=1)
    return fires


@lru_cache(maxsize=65536)
def _day_fires(expr: str, day: date) -> tuple[datetime, ...]:
    start = datetime.combine(day, time())
    tick = timedelta(microseconds=1)
    return tuple(wall_fires(expr, start - tick, start + timedelta(days=1) - tick))


@lru_cache(maxsize=65536)
def _fire_instant(wall: datetime, zi: tzinfo) -> datetime:
    """The first instant the local wall clock reads `wall`, or the jump over it (a DST gap)."""
    instants = wall_instants(wall.date(), wall.time(), zi)
    if instants:
        return min(instants)
    # In a gap: fold=1 maps with the later offset (an instant before the jump), fold=0 with the
    # earlier (after it); the jump lies between.
    before = wall.replace(tzinfo=zi, fold=1).astimezone(UTC)
    after = wall.replace(tzinfo=zi, fold=0).astimezone(UTC)
    lo, hi = min(before, after), max(before, after)
    return bisect_transition(zi, lo, hi)


def due(stores: Iterable[Store], now: datetime) -> list[Occurrence]:
    """Every occurrence of the stores due at `now`."""
    end = now + timedelta(microseconds=1)
    return [o for store in stores for o in occurrences(store, now, end) if o.due_at(now)]
