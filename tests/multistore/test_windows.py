"""Processing windows against a brute-force reference that walks the clock minute by minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from multistore.windows import closes_at, is_open, last_opened, next_open, parse_window

MINUTE = timedelta(minutes=1)
NY = ZoneInfo("America/New_York")


def _loadable(name: str) -> bool:
    try:
        ZoneInfo(name)
    except Exception:
        return False
    return True


ZONES = sorted(z for z in available_timezones() if _loadable(z))


# --- the reference: nothing but the rule, checked at every minute ---------------------------


def ref_open(start: int, end: int, tz: ZoneInfo, at: datetime) -> bool:
    local = at.astimezone(tz)
    t = local.hour * 60 + local.minute
    return start <= t < end if start < end else (t >= start or t < end)


def ref_next_open(start: int, end: int, tz: ZoneInfo, after: datetime) -> datetime:
    t = after
    for _ in range(4 * 24 * 60):
        if ref_open(start, end, tz, t):
            return t
        t += MINUTE
    raise AssertionError("the reference found no opening within 4 days")


def ref_closes_at(start: int, end: int, tz: ZoneInfo, at: datetime) -> datetime | None:
    if not ref_open(start, end, tz, at):
        return None
    t = at + MINUTE
    for _ in range(4 * 24 * 60):
        if not ref_open(start, end, tz, t):
            return t
        t += MINUTE
    raise AssertionError("the reference found no closing within 4 days")


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=4096)
def offset_changes(zone_name: str, year: int) -> tuple[datetime, ...]:
    """Instants (to the minute) where the zone's offset changes during `year`, found hourly."""
    tz = ZoneInfo(zone_name)
    found = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while t < end:
        nxt = t + timedelta(hours=1)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            m = t
            while m.astimezone(tz).utcoffset() == t.astimezone(tz).utcoffset():
                m += MINUTE
            found.append(m)
        t = nxt
    return tuple(found)


# Whole-minute instants from 1995 on, when every zone's offsets are whole minutes.
instants = st.datetimes(
    min_value=datetime(1995, 1, 1), max_value=datetime(2037, 12, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(second=0, microsecond=0))
minutes_of_day = st.integers(min_value=0, max_value=24 * 60 - 1)


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, int, ZoneInfo, datetime]:
    """A window and an instant; half the time both sit next to one of the zone's DST changes."""
    zone_name = draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone_name)
    at = draw(instants)
    changes = offset_changes(zone_name, at.year)
    if changes and draw(st.booleans()):
        change = draw(st.sampled_from(changes))
        at = change + draw(st.integers(min_value=-36 * 60, max_value=12 * 60)) * MINUTE
        local_before = (change - MINUTE).astimezone(tz)
        around = local_before.hour * 60 + local_before.minute
        start = (around + draw(st.integers(min_value=-90, max_value=90))) % 1440
        end = (start + draw(st.integers(min_value=1, max_value=150))) % 1440
        if start == end:
            end = (end + 1) % 1440
    else:
        start = draw(minutes_of_day)
        end = draw(minutes_of_day.filter(lambda m: m != start))
    return start, end, tz, at


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(cases())
def test_is_open_matches_the_reference(case: tuple[int, int, ZoneInfo, datetime]) -> None:
    start, end, tz, at = case
    assert is_open(hhmm(start), hhmm(end), tz, at) == ref_open(start, end, tz, at)


@PROPERTY
@given(cases())
def test_next_open_matches_the_reference(case: tuple[int, int, ZoneInfo, datetime]) -> None:
    start, end, tz, at = case
    assert next_open(hhmm(start), hhmm(end), tz.key, at) == ref_next_open(start, end, tz, at)


@PROPERTY
@given(cases())
def test_closes_at_matches_the_reference(case: tuple[int, int, ZoneInfo, datetime]) -> None:
    start, end, tz, at = case
    assert closes_at(hhmm(start), hhmm(end), tz, at) == ref_closes_at(start, end, tz, at)


# --- the cases people ask about -------------------------------------------------------------


def ny(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=NY).replace(fold=fold)


def test_a_window_across_midnight_is_open_on_both_sides() -> None:
    assert is_open("22:00", "06:00", NY, ny(2026, 6, 1, 23, 30))
    assert is_open("22:00", "06:00", NY, ny(2026, 6, 2, 5, 59))
    assert not is_open("22:00", "06:00", NY, ny(2026, 6, 2, 6, 0))
    assert not is_open("22:00", "06:00", NY, ny(2026, 6, 1, 21, 59))
    assert next_open("22:00", "06:00", NY, ny(2026, 6, 1, 12, 0)) == ny(2026, 6, 1, 22, 0)
    assert closes_at("22:00", "06:00", NY, ny(2026, 6, 1, 23, 0)) == ny(2026, 6, 2, 6, 0)


def test_spring_forward_cuts_a_window_short() -> None:
    # 2026-03-08: New York's clocks jump from 02:00 to 03:00.
    assert next_open("01:30", "02:30", NY, ny(2026, 3, 8, 0, 0)) == ny(2026, 3, 8, 1, 30)
    assert closes_at("01:30", "02:30", NY, ny(2026, 3, 8, 1, 45)) == ny(2026, 3, 8, 3, 0)
    # A window wholly inside the missing hour does not open that night.
    assert next_open("02:10", "02:40", NY, ny(2026, 3, 8, 0, 0)) == ny(2026, 3, 9, 2, 10)
    # A window that starts in the missing hour opens when the clocks land inside it.
    assert next_open("02:30", "03:30", NY, ny(2026, 3, 8, 0, 0)) == ny(2026, 3, 8, 3, 0)


def test_fall_back_opens_the_repeated_hour_twice() -> None:
    # 2026-11-01: New York's clocks go from 02:00 back to 01:00.
    first_close = closes_at("01:30", "02:30", NY, ny(2026, 11, 1, 1, 45))
    assert first_close == ny(2026, 11, 1, 1, 0, fold=1)
    reopen = next_open("01:30", "02:30", NY, first_close)
    assert reopen == ny(2026, 11, 1, 1, 30, fold=1)
    assert closes_at("01:30", "02:30", NY, reopen) == ny(2026, 11, 1, 2, 30)


def test_no_window_is_always_open_and_never_closes() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert is_open(None, None, "Asia/Tokyo", at)
    assert next_open(None, None, "Asia/Tokyo", at) == at
    assert closes_at(None, None, "Asia/Tokyo", at) is None


def test_closes_at_is_none_when_closed() -> None:
    assert closes_at("08:00", "09:00", NY, ny(2026, 6, 1, 12, 0)) is None


@pytest.mark.parametrize(
    ("start", "end", "tz", "message"),
    [
        ("24:00", "06:00", "UTC", "'24:00' is not a time HH:MM"),
        ("22:00", None, "UTC", "needs both a start and an end"),
        ("22:00", "22:00", "UTC", "is empty"),
        ("22:00", "06:00", "Mars/Olympus", "'Mars/Olympus' is not an IANA time zone"),
    ],
)
def test_bad_windows_are_named(start: str, end: str | None, tz: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        is_open(start, end, tz, datetime(2026, 1, 1, tzinfo=UTC))


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        is_open("22:00", "06:00", "UTC", datetime(2026, 1, 1))


def test_parse_window() -> None:
    assert parse_window("22:00-06:00") == ("22:00", "06:00")
    for bad in ("22:00", "22-06", "22:00-06:00-07:00", "9:00-10:00", "10:00-10:00"):
        with pytest.raises(ValueError):
            parse_window(bad)


# --- last_opened: when the window last opened (the lag of /health counts from it) -----------


@pytest.mark.parametrize(
    ("window", "at", "opened"),
    [
        (("22:00", "23:30"), ny(2026, 3, 2, 22, 40), ny(2026, 3, 2, 22, 0)),  # open now
        (("22:00", "23:30"), ny(2026, 3, 2, 22, 0), ny(2026, 3, 2, 22, 0)),  # opening instant
        (("22:00", "23:30"), ny(2026, 3, 2, 21, 59), ny(2026, 3, 1, 22, 0)),  # closed: yesterday
        (("22:00", "06:00"), ny(2026, 3, 3, 5, 0), ny(2026, 3, 2, 22, 0)),  # across midnight
        # Fall back: 01:00-01:30 opens twice on 2026-11-01; the second opening is the latest.
        (("01:00", "01:30"), ny(2026, 11, 1, 1, 10, fold=1), ny(2026, 11, 1, 1, 0, fold=1)),
    ],
)
def test_last_opened(window: tuple[str, str], at: datetime, opened: datetime) -> None:
    assert last_opened(*window, NY, at) == opened
    assert is_open(*window, NY, opened) and not is_open(*window, NY, opened - MINUTE)


def test_last_opened_is_none_without_a_window() -> None:
    assert last_opened(None, None, NY, ny(2026, 3, 2, 12, 0)) is None
