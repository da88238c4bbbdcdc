"""The retry policy over real HTTP on loopback: a scripted little server answers in turn."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from multistore import retry
from multistore.clock import ManualClock
from multistore.retry import ServiceError


class Script:
    """Answers (status, headers, body) in order; the last one repeats."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], dict]] = []
        self.seen: list[float] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            script.seen.append(time.monotonic())
            index = min(len(script.seen), len(script.answers)) - 1
            status, headers, body = script.answers[index]
            # `x-delay` is an instruction to this server (answer late), not a header to send.
            time.sleep(float(headers.get("x-delay", 0)))
            payload = json.dumps(body).encode()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
                self.send_response(status)
                for key, value in headers.items():
                    if key != "x-delay":
                        self.send_header(key, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # `shutdown` waits for the loop to look at its flag, every poll_interval (0.5 s by default).
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def _post(url: str) -> dict:
    response = httpx.post(f"{url}/dnc/scrub", json={}, timeout=5)
    response.raise_for_status()
    return response.json()


def test_5xx_then_success_is_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(503, {}, {}), (500, {}, {}), (200, {}, {"ok": True})]
    assert retry.call(lambda: _post(url), service="dnc", store="s1") == {"ok": True}
    assert len(script.seen) == 3


def test_429_waits_what_retry_after_asks_even_with_instant_backoff(
    server: tuple[str, Script],
) -> None:
    url, script = server
    script.answers = [(429, {"Retry-After": "7"}, {}), (200, {}, {"ok": True})]
    clock = ManualClock()
    assert retry.call(lambda: _post(url), service="dnc", sleep=clock.sleep) == {"ok": True}
    assert clock.slept == [7.0] and len(script.seen) == 2


def test_a_retry_after_beyond_the_cap_waits_the_cap(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(429, {"Retry-After": "600"}, {}), (200, {}, {"ok": True})]
    clock = ManualClock()
    retry.call(lambda: _post(url), service="dnc", sleep=clock.sleep, max_retry_after=60)
    assert clock.slept == [60.0]


def test_other_4xx_fails_at_once_with_one_line(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(404, {}, {"error": "not_found", "reason": "no dealer zz"})]
    with pytest.raises(ServiceError) as info:
        retry.call(lambda: _post(url), service="crm", store="zz")
    assert len(script.seen) == 1
    message = str(info.value)
    assert message == "crm for store zz: HTTP 404 on POST /dnc/scrub: not_found: no dealer zz"
    assert info.value.status == 404


def test_giving_up_names_service_store_and_attempts(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(503, {}, {"error": "unavailable", "reason": "outage"})]
    with pytest.raises(
        ServiceError,
        match=r"^dnc for store s9: HTTP 503 on POST /dnc/scrub "
        r"after 4 attempts: unavailable: outage$",
    ):
        retry.call(lambda: _post(url), service="dnc", store="s9", attempts=4)
    assert len(script.seen) == 4


def test_connection_refused_is_retried_then_named() -> None:
    calls = []

    def refused() -> dict:
        calls.append(1)
        return _post("http://127.0.0.1:9")  # discard port: nothing listens

    with pytest.raises(
        ServiceError,
        match=r"^dnc for store s1: ConnectError on POST /dnc/scrub "
        r"after 3 attempts",
    ):
        retry.call(refused, service="dnc", store="s1", attempts=3)
    assert len(calls) == 3


def test_backoff_grows_with_jitter_when_not_instant(monkeypatch: pytest.MonkeyPatch) -> None:
    from multistore.settings import reset_settings

    monkeypatch.setenv("MULTISTORE_INSTANT_BACKOFF", "false")
    reset_settings()
    wait = retry.BackoffWait(initial=1.0, maximum=8.0, max_retry_after=60)
    import tenacity

    waits = []
    for attempt in range(1, 7):
        state = tenacity.RetryCallState(retry.retrying(), fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        state.outcome = tenacity.Future.construct(attempt, httpx.ConnectError("x"), True)
        waits.append(max(wait(state) for _ in range(200)))
    # Full jitter below a ceiling that doubles up to the maximum.
    for attempt, ceiling in enumerate([1, 2, 4, 8, 8, 8]):
        assert ceiling * 0.8 <= waits[attempt] <= ceiling


async def test_async_call_retries_too(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(502, {}, {}), (200, {}, {"ok": 1})]

    async def post() -> dict:
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{url}/dnc/scrub", json={})
            response.raise_for_status()
            return response.json()

    assert await retry.acall(post, service="dnc") == {"ok": 1}


def test_a_timeout_is_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(200, {"x-delay": "1"}, {}), (200, {}, {"ok": True})]

    def post() -> dict:
        response = httpx.post(f"{url}/dnc/scrub", json={}, timeout=0.2)
        response.raise_for_status()
        return response.json()

    assert retry.call(post, service="dnc") == {"ok": True}
    assert len(script.seen) == 2
