"""The one call policy every client of an outside system goes through (`Caller`).

A call passes four stages, outermost first, always in this order:

1. **pool slot**: a slot of the client's shared pool (`Pools.slot`), so at most the pool's limit
   of these calls are in flight across stores, processes and machines. A client that works through
   many requests in one sitting (a listing's pages, a browser page's stint) holds the slot for that
   session instead (`Caller.session()`, `hold="session"`): a declared choice of the client.
2. **breaker**: the service's circuit breaker (multistore.breaker) refuses at once while open: no
   request, no rate spent, no retry waited. One call with all its retries is one outcome; only
   OUTAGE and MALFORMED endings count against the service (a rejection is our request's fault, a
   429 is waited out, a LOCAL failure such as a crashed browser is ours).
3. **retry**: up to `attempts` tries of the call, every kind but REJECTED retried, with backoff
   (multistore.retry). Each try first waits for the pool's rate limit (`Pools.throttle`) when the
   client has one, so retries spend rate too and the vendor's limit holds.
4. **the end**: a call that fails for good raises one `ServiceError` (a `CircuitOpenError` when
   refused), one line naming the service, the store and the cause. Errors that are no call
   failure (bugs) pass through unchanged.

The pools are injected (`Pools`): Prefect's global concurrency limits in production
(tasks/pools.py), `NO_POOLS` in fakes and logic tests. So are the clock (backoff sleeps, breaker
cool-downs, token expiry) and the breaker, so a test moves time instead of waiting for it.
A store that caps its share of a pool (`pool_caps`, e.g. one browser page at a time) gets its
pools through `StorePools`, which takes one of the store's own slots before the shared one, so a
capped store waits without holding a slot others could use.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Literal, Protocol, TypeVar

import httpx

from multistore import retry
from multistore.breaker import CircuitBreaker, CircuitOpenError
from multistore.clock import SYSTEM_CLOCK, Clock
from multistore.retry import CallFailed, Kind

T = TypeVar("T")

# The endings that say the service itself is failing (see stage 2).
COUNTED = frozenset({Kind.OUTAGE, Kind.MALFORMED})


class Pools(Protocol):
    """The shared pools as the call policy needs them."""

    def slot(self, name: str) -> AbstractContextManager[None]:
        """Hold one slot of pool `name` for the block."""
        ...

    def throttle(self, name: str) -> None:
        """Return when pool `name`'s rate limit allows one more call."""
        ...


class NoPools:
    """No shared pools: one process alone (fakes, logic tests)."""

    def slot(self, name: str) -> AbstractContextManager[None]:
        return nullcontext()

    def throttle(self, name: str) -> None:
        return None


NO_POOLS = NoPools()


_SHARES_LOCK = threading.Lock()
_SHARES: dict[tuple[str, str, int], threading.BoundedSemaphore] = {}


class StorePools:
    """`pools` as one store sees them: at most `caps[pool]` of its slots of a pool held at once.

    The cap is counted in this process: a store runs in one process at a time (its lease,
    multistore/leases.py), so every slot it holds is held here, whichever job or client holds it.
    A pool without a cap is `pools`' own.
    """

    def __init__(self, pools: Pools, store: str, caps: Mapping[str, int]) -> None:
        self.pools = pools
        self.store = store
        self.caps = dict(caps)

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        cap = self.caps.get(name)
        if cap is None:
            with self.pools.slot(name):
                yield
            return
        with self._share(name, cap), self.pools.slot(name):
            yield

    def throttle(self, name: str) -> None:
        self.pools.throttle(name)

    def _share(self, name: str, cap: int) -> threading.BoundedSemaphore:
        # Every client of the store in this process shares one count per pool (and per cap, so
        # a cap changed between runs starts afresh rather than resizing one in use).
        key = (self.store, name, cap)
        with _SHARES_LOCK:
            return _SHARES.setdefault(key, threading.BoundedSemaphore(cap))


def store_pools(pools: Pools, store: str, caps: Mapping[str, int] | None) -> Pools:
    """`pools` with the store's caps, or `pools` itself when it has none."""
    return StorePools(pools, store, caps) if caps else pools


class OrchestratorBusy(RuntimeError):
    """The Prefect server kept failing (a 503 "database is locked", a 5xx, no answer) while a
    pool slot was being taken, through every retry: the orchestrator's failure, not the
    vendor's nor the store's, so it never counts toward the store's quarantine."""


def orchestrator_failure(exc: BaseException | None) -> bool:
    """Whether `exc`, or an error it was raised from, is an `OrchestratorBusy`."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OrchestratorBusy):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def counts_against_service(exc: BaseException) -> bool:
    return retry.classify(exc) in COUNTED


class Caller:
    """The policy bound to one service, one store and one client's choices."""

    def __init__(
        self,
        service: str,
        *,
        store: str,
        pools: Pools,
        pool: str | None = None,
        rate: bool = False,
        hold: Literal["call", "session"] = "call",
        breaker: CircuitBreaker | Literal[False] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        **retry_options: Any,
    ) -> None:
        """`pool`: the pool whose slot a call (or session) holds; `rate`: each try waits for
        `rate:<pool>`; `breaker`: None builds the service's configured one (read once, here),
        False means none; `retry_options`: the fields of `retry.Policy`."""
        self.service = service
        self.store = store
        self.pools = pools
        self.pool = pool
        self.rate = rate
        self.hold = hold
        self.clock = clock
        if breaker is None:
            breaker = CircuitBreaker(service, clock=clock.now)
        self.breaker: CircuitBreaker | None = breaker or None
        self.retry_options = {"sleep": clock.sleep, **retry_options}

    def call(self, fn: Callable[[], T], **retry_options: Any) -> T:
        """`fn()` through the four stages (`retry_options` override the client's for this call)."""
        slot = self._slot() if self.hold == "call" else nullcontext()
        with slot, self._guard():
            return retry.call(
                self._throttled(fn),
                service=self.service,
                store=self.store,
                **{**self.retry_options, **retry_options},
            )

    @contextmanager
    def session(self) -> Iterator[None]:
        """Hold the pool's slot around many calls (for a client declared `hold="session"`)."""
        with self._slot():
            yield

    # -- the stages --------------------------------------------------------------------------
    def _slot(self) -> AbstractContextManager[None]:
        return self.pools.slot(self.pool) if self.pool else nullcontext()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        if self.breaker is None:
            yield
            return
        try:
            with self.breaker.guard(counts=counts_against_service):
                yield
        except CircuitOpenError as exc:
            if exc.store is not None:
                raise
            raise exc.for_store(self.store) from None

    def _throttled(self, fn: Callable[[], T]) -> Callable[[], T]:
        if not (self.rate and self.pool):
            return fn
        name = self.pool

        def attempt() -> T:
            self.pools.throttle(name)
            return fn()

        return attempt


# -- what every HTTP client reads the same way -----------------------------------------------


def json_body(response: httpx.Response) -> Any:
    """The response's JSON after `raise_for_status`; a body that is not JSON is MALFORMED."""
    response.raise_for_status()
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = " ".join(response.text.split())[:60]
        raise CallFailed(
            Kind.MALFORMED,
            f"{_where(response)}: body is not JSON ({text!r})",
            status=response.status_code,
        ) from None


def require(body: Any, key: str, kind: type | tuple[type, ...], response: httpx.Response) -> Any:
    """`body[key]`, which must be of `kind`; anything else is a MALFORMED answer."""
    if not isinstance(body, dict):
        raise CallFailed(
            Kind.MALFORMED, f"{_where(response)}: body is {type(body).__name__}, not an object"
        )
    value = body.get(key)
    if not isinstance(value, kind):
        what = "missing" if key not in body else f"a {type(value).__name__}"
        raise CallFailed(Kind.MALFORMED, f"{_where(response)}: {key!r} is {what}")
    return value


def _where(response: httpx.Response) -> str:
    request = response.request
    return f"HTTP {response.status_code} on {request.method} {request.url.path}"
