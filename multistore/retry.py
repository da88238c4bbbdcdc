"""Calls to outside services: which failures earn another try, how long to wait, how to say no.

The rule: a 5xx, a 429, a timeout or a dropped connection is retried, up to `attempts` tries in
all; anything else (another 4xx, a bad answer) fails at once. Between tries the wait is exponential
with full jitter (a random wait in [0, min(maximum, initial × 2^n)]) so that many stores backing off
together do not retry in step; a 429's Retry-After is honoured instead (the vendor said how long),
capped at `max_retry_after`. `Settings.instant_backoff` makes the exponential waits zero in tests;
Retry-After is still honoured there, because ignoring it only earns more 429s.

A failure that ends the call is a `ServiceError`: one line naming the service, the store and what
the service answered ("dnc for store sunset-ford: HTTP 503 on POST /dnc/scrub after 6 attempts").
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import tenacity

from multistore import apicounts
from multistore.settings import get_settings

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class ServiceError(RuntimeError):
    """An outside service's call failed for good; `str()` is one line for the run report."""

    def __init__(self, message: str, *, service: str, status: int | None = None) -> None:
        super().__init__(message)
        self.service = service
        self.status = status


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRYABLE_STATUS or exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)  # timeouts, refused or dropped connections


def retry_after(exc: BaseException) -> float | None:
    """The seconds a 429 (or 503) asked us to wait, when it said so in seconds."""
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

    def tenacity_options(self) -> dict[str, Any]:
        """The keyword arguments of `tenacity.Retrying` (or `AsyncRetrying`) for this policy."""
        return {
            "stop": tenacity.stop_after_attempt(self.attempts),
            "wait": BackoffWait(
                initial=self.initial, maximum=self.maximum, max_retry_after=self.max_retry_after
            ),
            "retry": tenacity.retry_if_exception(self.retry_on),
            "reraise": True,
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
    retrier = tenacity.AsyncRetrying(**policy.tenacity_options())
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
        if isinstance(exc, httpx.HTTPError) or policy.retry_on(exc):
            raise _service_error(exc, service, store, retrier) from exc
        raise


def _service_error(
    exc: Exception, service: str, store: str | None, policy: tenacity.BaseRetrying
) -> ServiceError:
    attempts = policy.statistics.get("attempt_number")
    status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
    message = describe(exc, service=service, store=store, attempts=attempts)
    return ServiceError(message, service=service, status=status)


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
