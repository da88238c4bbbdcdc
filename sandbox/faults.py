"""Fault injection per vendor and store, deterministic under the seed.

A fault applies to requests whose vendor and store match (`*` matches any; vendor `crm` also
matches `crm_ui`). Whether a given request fails is decided by hashing (seed, vendor, store, the
request's number for that vendor and store, the kind of fault): the same run of requests meets the
same faults every time. A fault with `for_seconds` or `until` switches itself off.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator


class Fault(BaseModel):
    vendor: str = "*"
    store: str = "*"
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    # Share of calls answered 500/502/503.
    error_rate: float = Field(default=0.0, ge=0, le=1)
    # Share of calls answered 429 (1.0: every call), whatever the bucket holds.
    rate_limit_storm: float = Field(default=0.0, ge=0, le=1)
    retry_after: int = Field(default=1, ge=0)
    # Every call answered 503 while the fault is active.
    outage: bool = False
    # Share of web UI logins refused with an error message.
    login_failure_rate: float = Field(default=0.0, ge=0, le=1)
    # Share of calls that never answer (the client must time out; cancelled when it leaves).
    hang_rate: float = Field(default=0.0, ge=0, le=1)
    # Share of web UI saves answered "saved" but not kept (a lost write only a read-back sees).
    drop_save_rate: float = Field(default=0.0, ge=0, le=1)
    for_seconds: float | None = Field(default=None, gt=0)
    until: datetime | None = None
    # Set when the fault is installed, from for_seconds/until (epoch seconds).
    expires_at: float | None = None

    model_config = {"extra": "forbid"}

    @model_validator(mode="after")
    def _expiry(self) -> Fault:
        if self.expires_at is None:
            if self.for_seconds is not None:
                self.expires_at = time.time() + self.for_seconds
            elif self.until is not None:
                until = self.until if self.until.tzinfo else self.until.astimezone()
                self.expires_at = until.timestamp()
        return self

    def matches(self, vendor: str, store: str) -> bool:
        vendor_ok = self.vendor in ("*", vendor) or vendor.startswith(f"{self.vendor}_")
        return vendor_ok and self.store in ("*", store)

    def active(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


def parse_faults(data: Any, *, where: str) -> list[Fault]:
    """A list of faults from a list, a single fault, or {"faults": [...]}; bad input names where."""
    if isinstance(data, dict) and "faults" in data:
        data = data["faults"]
    if data is None:
        return []
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ValueError(f"{where}: faults must be a list of objects, got {type(data).__name__}")
    faults = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"{where}: faults[{index}] must be an object")
        try:
            faults.append(Fault(**item))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "fault"
            raise ValueError(f"{where}: faults[{index}].{field}: {first['msg']}") from None
    return faults


def roll(seed: int, vendor: str, store: str, number: int, kind: str) -> float:
    """A uniform number in [0, 1) fixed by its arguments."""
    digest = hashlib.blake2b(
        f"{seed}|{vendor}|{store}|{number}|{kind}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") / 2**64


class FaultBook:
    """The installed faults and the per (vendor, store) request numbers the dice use."""

    def __init__(
        self,
        seed: int,
        faults: list[Fault] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.seed = seed
        self.faults: list[Fault] = list(faults or [])
        self._numbers: dict[tuple[str, str], int] = {}
        self.clock = clock

    def replace(self, faults: list[Fault]) -> None:
        self.faults = list(faults)
        self._numbers.clear()

    def clear(self) -> None:
        self.replace([])

    def active(self) -> list[Fault]:
        now = self.clock()
        self.faults = [f for f in self.faults if f.active(now)]
        return self.faults

    def matching(self, vendor: str, store: str) -> list[Fault]:
        return [f for f in self.active() if f.matches(vendor, store)]

    def next_number(self, vendor: str, store: str) -> int:
        key = (vendor, store)
        self._numbers[key] = self._numbers.get(key, 0) + 1
        return self._numbers[key]

    def hit(self, rate: float, vendor: str, store: str, number: int, kind: str) -> bool:
        return rate > 0 and roll(self.seed, vendor, store, number, kind) < rate
