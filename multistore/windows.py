"""Processing windows: pure functions over a store's local wall clock.

The rule: a window `start`–`end` ("HH:MM" in the store's IANA zone) is open at an instant when that
instant's local wall-clock time t satisfies start <= t < end, or, for a window that crosses midnight
(start > end), t >= start or t < end. No window (start and end both None) is always open.

Everything follows from that rule, DST included: on a spring-forward night a window 01:30–02:30 is
open from 01:30 until the clocks jump to 03:00 and then closed; on a fall-back night the repeated
hour is inside the window twice, so the window can open twice that night.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# How far ahead to look for an opening; a real window opens at least every few days, even when a
# zone skips a whole calendar day (Pacific/Apia, 2011-12-30).
_SEARCH_DAYS = 14

TimeLike = str | time | None
ZoneLike = str | tzinfo


def parse_hhmm(value: str) -> time:
    """'22:00' → time(22, 0); anything else is a ValueError naming the value."""
    match = _HHMM.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{value!r} is not a time HH:MM (00:00–23:59)")
    return time(int(match.group(1)), int(match.group(2)))


def parse_window(value: str) -> tuple[str, str]:
    """'22:00-06:00' → ('22:00', '06:00'); start and end must differ."""
    parts = value.split("-") if isinstance(value, str) else []
    if len(parts) != 2:
        raise ValueError(f"{value!r} is not a window HH:MM-HH:MM")
    start, end = (parse_hhmm(p) for p in parts)
    if start == end:
        raise ValueError(f"{value!r} is an empty window (start equals end); use no window instead")
    return f"{start:%H:%M}", f"{end:%H:%M}"


def format_window(start: str | None, end: str | None) -> str:
    return "always" if start is None and end is None else f"{start}-{end}"


def zone(tz: ZoneLike) -> tzinfo:
    """An IANA zone by name; an unknown name is a ValueError naming it."""
    if not isinstance(tz, str):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{tz!r} is not an IANA time zone") from None


def is_open(start: TimeLike, end: TimeLike, tz: ZoneLike, at: datetime) -> bool:
    """Whether the window is open at the instant `at` (timezone-aware)."""
    bounds = bounds_of(start, end)
    if bounds is None:
        return True
    _require_aware(at)
    return inside(bounds, at.astimezone(zone(tz)).time())


def next_open(start: TimeLike, end: TimeLike, tz: ZoneLike, after: datetime) -> datetime:
    """The earliest instant at or after `after` when the window is open (`after` if open then)."""
    bounds = bounds_of(start, end)
    _require_aware(after)
    if bounds is None:
        return after
    zi = zone(tz)
    if inside(bounds, after.astimezone(zi).time()):
        return after
    for instant in _events(bounds, zi, after):
        if inside(bounds, instant.astimezone(zi).time()):
            return instant.astimezone(after.tzinfo)
    raise ValueError(f"window {start}-{end} never opens in {zi} after {after.isoformat()}")


def closes_at(start: TimeLike, end: TimeLike, tz: ZoneLike, at: datetime) -> datetime | None:
    """When the window open at `at` closes; None when it is closed at `at` or never closes."""
    bounds = bounds_of(start, end)
    _require_aware(at)
    if bounds is None:
        return None
    zi = zone(tz)
    if not inside(bounds, at.astimezone(zi).time()):
        return None
    for instant in _events(bounds, zi, at):
        if not inside(bounds, instant.astimezone(zi).time()):
            return instant.astimezone(at.tzinfo)
    raise ValueError(f"window {start}-{end} never closes in {zi} after {at.isoformat()}")


def bounds_of(start: TimeLike, end: TimeLike) -> tuple[time, time] | None:
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise ValueError("a window needs both a start and an end (or neither: always open)")
    s = parse_hhmm(start) if isinstance(start, str) else start
    e = parse_hhmm(end) if isinstance(end, str) else end
    if s == e:
        raise ValueError(f"window {s:%H:%M}-{e:%H:%M} is empty (start equals end)")
    return s, e


def inside(bounds: tuple[time, time], t: time) -> bool:
    start, end = bounds
    if start < end:
        return start <= t < end
    return t >= start or t < end


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no time zone; pass an aware datetime")


def _events(bounds: tuple[time, time], zi: tzinfo, after: datetime) -> list[datetime]:
    """Every instant after `after` (within the search horizon) where openness may change, sorted.

    Openness is constant between two such instants: local time only crosses start or end at the
    instants where it equals them (either fold), and only jumps at the zone's offset transitions.
    """
    first_day = after.astimezone(zi).date() - timedelta(days=1)
    found: set[datetime] = set()
    for offset in range(_SEARCH_DAYS + 2):
        day = first_day + timedelta(days=offset)
        for t in bounds:
            found.update(wall_instants(day, t, zi))
    horizon_start = datetime.combine(first_day, time(), UTC) - timedelta(days=1)
    found.update(transitions(zi, horizon_start, horizon_start + timedelta(days=_SEARCH_DAYS + 4)))
    after_utc = after.astimezone(UTC)
    return sorted(i for i in found if i > after_utc)


def wall_instants(day: date, t: time, zi: tzinfo) -> list[datetime]:
    """The UTC instants whose local wall time is `day` `t`: none in a gap, two in an overlap."""
    instants = []
    for fold in (0, 1):
        local = datetime.combine(day, t, zi).replace(fold=fold)
        utc = local.astimezone(UTC)
        back = utc.astimezone(zi)
        if back.replace(tzinfo=None) == local.replace(tzinfo=None):
            instants.append(utc)
    return instants


def transitions(zi: tzinfo, start: datetime, end: datetime) -> list[datetime]:
    """The instants in [start, end) where the zone's UTC offset changes, to the second."""
    step = timedelta(hours=6)
    found = []
    lo = start
    while lo < end:
        hi = lo + step
        if lo.astimezone(zi).utcoffset() != hi.astimezone(zi).utcoffset():
            found.append(bisect_transition(zi, lo, hi))
        lo = hi
    return found


def bisect_transition(zi: tzinfo, lo: datetime, hi: datetime) -> datetime:
    """The first instant in (lo, hi] with hi's offset; zones change offset on whole seconds."""
    target = hi.astimezone(zi).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            mid = lo + timedelta(seconds=1)
        if mid.astimezone(zi).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return hi


def last_opened(start: TimeLike, end: TimeLike, tz: ZoneLike, at: datetime) -> datetime | None:
    """The latest instant at or before `at` when the window opened (was closed just before).

    None for a window that is always open, and for one that did not open in the three days
    before `at` (a daily window opens every day, even across a skipped calendar day).
    """
    if bounds_of(start, end) is None:
        return None
    _require_aware(at)
    cursor = at - timedelta(days=3)
    latest = None
    while True:
        opening = next_open(start, end, tz, cursor)
        if opening > at:
            return latest
        if opening != cursor or not is_open(start, end, tz, cursor - timedelta(seconds=1)):
            latest = opening
        closing = closes_at(start, end, tz, opening)
        if closing is None or closing > at:
            return latest
        cursor = closing
