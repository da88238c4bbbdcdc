"""Calls to outside services: what kind of failure it was, whether it earns another try, how
long to wait, how to say no.

Every failure of an outside call is one of four kinds (`Kind`), whatever the transport (HTTP,
a browser page): OUTAGE (5xx, timeout, refused or dropped connection, a page that would not
load), RATE_LIMITED (429), REJECTED (another 4xx, refused credentials: our request is wrong),
MALFORMED (a 2xx whose body breaks the vendor's contract: not JSON, a key missing); and LOCAL,
our own machinery failing mid-call (a crashed browser). Client code raises `CallFailed(kind, …)`
for what it detects itself; httpx errors are classified here (`classify`).

The rule: every kind but REJECTED is retried, up to `attempts` tries in all; REJECTED, and any
error that is no call failure at all (a bug), fails at once. Between tries the wait is exponential
with full jitter (a random wait in [0, min(maximum, initial × 2^n)]) so that many stores backing off
together do not retry in step; a 429's Retry-After is honoured instead (the vendor said how long),
capped at `max_retry_after`. `Settings.instant_backoff` makes the exponential waits zero in tests;
Retry-After is still honoured there (ignoring it only earns more 429s), on the `sleep` the caller
injects (a test's clock).

A failure that ends the call is a `ServiceError`: one line naming the service, the store and what
the service answered ("dnc for store sunset-ford: HTTP 503 on POST /dnc/scrub after 6 attempts").
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

import httpx
import tenacity

from multistore import apicounts
from multistore.settings import get_settings

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class Kind(Enum):
    OUTAGE = "outage"
    RATE_LIMITED = "rate limited"
    REJECTED = "rejected"
    MALFORMED = "malformed"
    LOCAL = "local"


RETRIED = frozenset({Kind.OUTAGE, Kind.RATE_LIMITED, Kind.MALFORMED, Kind.LOCAL})


def kind_of_status(status: int) -> Kind:
    if status == 429:
        return Kind.RATE_LIMITED
    return Kind.OUTAGE if status in RETRYABLE_STATUS or status >= 500 else Kind.REJECTED


class CallFailed(Exception):
    """A failed outside call in the domain's terms; `detail` is one line (what, where)."""

    def __init__(
        self,
        kind: Kind,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after = retry_after


class ServiceError(RuntimeError):
    """An outside service's call failed for good; `str()` is one line for the run report."""

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status: int | None = None,
        kind: Kind | None = None,
        store: str | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.status = status
        self.store = store
        self.kind = kind if kind is not None else _kind_of(status)


def _kind_of(status: int | None) -> Kind:
    return Kind.OUTAGE if status is None else kind_of_status(status)


def classify(exc: BaseException) -> Kind | None:
    """The kind of a failed call, or None when `exc` is no call failure (a bug: not retried)."""
    if isinstance(exc, CallFailed | ServiceError):
        return exc.kind
    if isinstance(exc, httpx.HTTPStatusError):
        return kind_of_status(exc.response.status_code)
    if isinstance(exc, httpx.TransportError):  # timeouts, refused or dropped connections
        return Kind.OUTAGE
    return None


def is_retryable(exc: BaseException) -> bool:
    return classify(exc) in RETRIED


def retry_after(exc: BaseException) -> float | None:
    """The seconds a 429 (or 503) asked us to wait, when it said so in seconds."""
    if isinstance(exc, CallFailed):
        return exc.retry_after
    if not isinstance(exc, httpx.HTTPStatusError):
        return None
    value = exc.response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def describe(
    exc: BaseException, *, service: str, store: str | None = None, attempts: int | None = None
) -> str:
    """One line: the service, the store, the request and what went wrong."""
    who = f"{service} for store {store}" if store else service
    tries = f" after {attempts} attempts" if attempts and attempts > 1 else ""
    if isinstance(exc, CallFailed):
        return f"{who}: {_one_line(exc.detail)}{tries}"
    if isinstance(exc, httpx.HTTPStatusError):
        request, response = exc.request, exc.response
        detail = _short_body(response)
        return (
            f"{who}: HTTP {response.status_code} on {request.method} {request.url.path}"
            f"{tries}{': ' + detail if detail else ''}"
        )
    if isinstance(exc, httpx.RequestError):
        where = f" on {exc.request.method} {exc.request.url.path}" if _has_request(exc) else ""
        return f"{who}: {type(exc).__name__}{where}{tries}: {_one_line(str(exc)) or 'no answer'}"
    # Only the first line: tools like Playwright append a multi-line call log.
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{who}: {type(exc).__name__}{tries}: {first}"


class BackoffWait(tenacity.wait.wait_base):
    """Retry-After when the answer carried one, else exponential backoff with full jitter."""

    def __init__(self, *, initial: float, maximum: float, max_retry_after: float) -> None:
        self.initial, self.maximum, self.max_retry_after = initial, maximum, max_retry_after

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        asked = retry_after(outcome.exception()) if outcome is not None else None
        if asked is not None:
            return min(asked, self.max_retry_after)
        if get_settings().instant_backoff:
            return 0.0
        ceiling = min(self.maximum, self.initial * 2 ** (retry_state.attempt_number - 1))
        return random.uniform(0, ceiling)


@dataclass(frozen=True, kw_only=True)
class Policy:
    """The rule above and its defaults, in one place for `retrying`, `call` and `acall`: at most
    `attempts` tries; exponential waits from `initial` up to `maximum`; a Retry-After honoured up
    to `max_retry_after`; `retry_on` says which failures earn another try."""

    attempts: int = 6
    initial: float = 0.5
    maximum: float = 30.0
    max_retry_after: float = 60.0
    retry_on: Callable[[BaseException], bool] = is_retryable
    # What waits between tries: a test passes its clock's sleep, so no test waits on the clock.
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def tenacity_options(self) -> dict[str, Any]:
        """The keyword arguments of `tenacity.Retrying` (or `AsyncRetrying`) for this policy."""
        return {
            "stop": tenacity.stop_after_attempt(self.attempts),
            "wait": BackoffWait(
                initial=self.initial, maximum=self.maximum, max_retry_after=self.max_retry_after
            ),
            "retry": tenacity.retry_if_exception(self.retry_on),
            "reraise": True,
            "sleep": self.sleep,
        }


def retrying(**options: Any) -> tenacity.Retrying:
    """A tenacity policy with the rule above (`options`: the fields of `Policy`); the last error
    is re-raised as it was."""
    return tenacity.Retrying(**Policy(**options).tenacity_options())


def call(fn: Callable[[], T], *, service: str, store: str | None = None, **options: Any) -> T:
    """`fn()` under the policy (it should raise httpx errors, e.g. via `raise_for_status()`);
    an HTTP failure (or one `retry_on` accepts) that ends it becomes one `ServiceError` naming
    `service` and `store`; other errors (bugs, bad data) pass through unchanged. `options` are the
    fields of `Policy`."""
    policy = Policy(**options)
    retrier = tenacity.Retrying(**policy.tenacity_options())
    with _service_errors(policy, retrier, service=service, store=store):
        return retrier(apicounts.counted(fn, service=service, store=store))


async def acall(
    fn: Callable[[], Awaitable[T]], *, service: str, store: str | None = None, **options: Any
) -> T:
    """The asynchronous `call`."""
    policy = Policy(**options)
    tenacity_options = policy.tenacity_options()
    tenacity_options.pop("sleep")  # the asynchronous retrier awaits asyncio.sleep
    retrier = tenacity.AsyncRetrying(**tenacity_options)
    with _service_errors(policy, retrier, service=service, store=store):
        return await retrier(apicounts.acounted(fn, service=service, store=store))


@contextmanager
def _service_errors(
    policy: Policy, retrier: tenacity.BaseRetrying, *, service: str, store: str | None
) -> Iterator[None]:
    """What `call` and `acall` both do with the error that ended the tries."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, ServiceError):
            raise
        if classify(exc) is not None or policy.retry_on(exc):
            raise _service_error(exc, service, store, retrier) from exc
        raise


def _service_error(
    exc: Exception, service: str, store: str | None, policy: tenacity.BaseRetrying
) -> ServiceError:
    attempts = policy.statistics.get("attempt_number")
    status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
    if isinstance(exc, CallFailed):
        status = exc.status
    message = describe(exc, service=service, store=store, attempts=attempts)
    kind = classify(exc) or Kind.OUTAGE
    return ServiceError(message, service=service, status=status, kind=kind, store=store)


def _short_body(response: httpx.Response, limit: int = 160) -> str:
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        try:
            return _one_line(response.text)[:limit]
        except httpx.ResponseNotRead:
            return ""
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "reason", "message", "detail") if k in body]
        if parts:
            return _one_line(": ".join(parts))[:limit]
    return _one_line(str(body))[:limit]


def _has_request(exc: httpx.RequestError) -> bool:
    try:
        exc.request  # noqa: B018 - raises when the error was built without a request
    except RuntimeError:
        return False
    return True


def _one_line(text: str) -> str:
    return " ".join(text.split())
