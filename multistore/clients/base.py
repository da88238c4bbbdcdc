"""What every HTTP client shares: its Caller (the call policy) and one httpx client."""

from __future__ import annotations

from typing import ClassVar, Literal

import httpx

from multistore.breaker import CircuitBreaker
from multistore.calls import Caller, Pools
from multistore.clock import SYSTEM_CLOCK, Clock


class HttpClient:
    """Subclasses declare their service, pool and choices; `self.caller.call` makes requests."""

    service: ClassVar[str]
    pool: ClassVar[str | None] = None
    rate: ClassVar[bool] = False  # each try waits for `rate:<pool>`
    hold: ClassVar[Literal["call", "session"]] = "call"
    attempts: ClassVar[int | None] = None  # None: the policy's default
    timeout: ClassVar[httpx.Timeout] = httpx.Timeout(30.0, connect=10.0)

    def __init__(
        self,
        *,
        store_id: str,
        pools: Pools,
        clock: Clock = SYSTEM_CLOCK,
        http: httpx.Client | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.store_id = store_id
        self.clock = clock
        self.http = http or httpx.Client(timeout=self.timeout)
        options = {} if self.attempts is None else {"attempts": self.attempts}
        self.caller = Caller(
            self.service,
            store=store_id,
            pools=pools,
            pool=self.pool,
            rate=self.rate,
            hold=self.hold,
            breaker=breaker,
            clock=clock,
            **options,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
