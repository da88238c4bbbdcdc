"""The CRM API client against the sandbox: pagination, token renewal, one-line refusals."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

import multistore.clients.crm
from blocks.sandbox import store_block
from multistore.breaker import breaker
from multistore.calls import NO_POOLS
from multistore.clock import ManualClock
from multistore.retry import ServiceError


def _client(credentials, store_id: str, **options):
    return credentials.get_client(store_id, pools=NO_POOLS, **options)


def test_all_pages_and_a_new_token_when_the_old_one_expires(
    sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox.state.config, "contacts_per_store", 23)
    credentials = store_block("crm", "crm-pages", sandbox.url)
    credentials.page_size = 5
    with _client(credentials, "crm-pages") as client:
        first = client.contacts()
        assert client.tokens_fetched == 1
        # The server forgets every token it issued (as when they expire): the next call meets
        # a 401 and the client fetches a new token, once.
        sandbox.state.tokens.clear()
        second = client.contacts()
    assert [c["ContactId"] for c in first] == [c["ContactId"] for c in second]
    assert len(first) == 23 and len({c["ContactId"] for c in first}) == 23
    assert first == sandbox.admin.crm_contacts("crm-pages")
    assert client.tokens_fetched == 2


def test_a_token_is_renewed_before_it_expires_on_the_clients_clock(sandbox) -> None:
    """The token says `expires_in`; once the clock passes it, the next request takes a new one
    first (no 401 met), whatever the wall clock did."""
    clock = ManualClock()
    credentials = store_block("crm", "crm-ttl", sandbox.url)
    credentials.page_size = 1000
    with _client(credentials, "crm-ttl", clock=clock) as client:
        client.contacts()
        sandbox.admin.reset_counters()
        clock.advance(sandbox.state.config.token_ttl_seconds - 60)
        client.contacts()
        assert client.tokens_fetched == 1  # still valid: kept
        clock.advance(31)
        client.contacts()
    assert client.tokens_fetched == 2
    # Two contact listings (one page each) and one token request: no refused request.
    assert sandbox.admin.vendor_counts("crm")["requests"] == 3


def test_a_wrong_api_key_fails_at_once_naming_service_and_store(sandbox) -> None:
    credentials = store_block("crm", "crm-keys", sandbox.url)
    credentials.api_key = SecretStr("wrong")
    sandbox.admin.reset_counters()
    with _client(credentials, "crm-keys") as client, pytest.raises(ServiceError) as info:
        client.contacts()
    assert str(info.value) == (
        "crm for store crm-keys: HTTP 403 on GET /crm/dealers/crm-keys/contacts: "
        "forbidden: missing or wrong api_key header"
    )
    assert sandbox.admin.vendor_counts("crm")["requests"] == 2  # the token, then one refusal


def test_the_probe_after_the_cooldown_really_asks_the_crm(sandbox, isolated_settings) -> None:
    """A new client has no token: its token request is the probe, and a failing probe reopens."""
    isolated_settings.mkdir(parents=True, exist_ok=True)
    (isolated_settings / "breakers.yaml").write_text(
        "breakers:\n  crm: {threshold: 1, cooldown_seconds: 60}\n"
    )
    sandbox.admin.set_faults([{"vendor": "crm", "store": "crm-down", "outage": True}])
    clock = ManualClock()

    def fetch() -> None:
        credentials = store_block("crm", "crm-down", sandbox.url)
        with (
            _client(credentials, "crm-down", clock=clock) as client,
            pytest.raises(ServiceError, match=r"^crm for store crm-down: "),
        ):
            client.contacts()

    fetch()
    assert breaker("crm").status().state == "open"
    sandbox.admin.reset_counters()
    fetch()  # still cooling down: refused without a request
    assert sandbox.admin.vendor_counts("crm")["requests"] == 0
    clock.advance(61)
    fetch()
    assert sandbox.admin.vendor_counts("crm")["requests"] >= 1  # the probe went out
    assert breaker("crm").status().state == "open"  # and its failure reopened the circuit


def _mock_crm(next_link, body=None):
    """A client whose CRM answers every contacts page with one item and `next_link(url)`."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json={"access_token": "t"})
        if body is not None:
            return httpx.Response(200, content=body)
        return httpx.Response(200, json={"items": [{"ContactId": 1}], "next": next_link(request)})

    credentials = store_block("crm", "crm-mock", "https://crm.example.test")
    client = _client(
        credentials, "crm-mock", http=httpx.Client(transport=httpx.MockTransport(handler))
    )
    return client, seen


def test_a_next_link_to_another_host_is_refused_before_any_request_goes_there() -> None:
    client, seen = _mock_crm(lambda request: "https://evil.example.test/crm/steal?page=2")
    with pytest.raises(ValueError) as info:
        client.contacts()
    client.close()
    assert str(info.value) == (
        "crm for store crm-mock: refusing 'next' 'https://evil.example.test/crm/steal?page=2' "
        "outside https://crm.example.test/crm"
    )
    assert "\n" not in str(info.value)
    assert not [url for url in seen if "evil" in url]
    # A URL that merely begins with the base URL's text (a sibling path) is outside it too.
    client, seen = _mock_crm(lambda request: "https://crm.example.test/crmx/contacts?page=2")
    with pytest.raises(ValueError, match=r"^crm for store crm-mock: refusing 'next'"):
        client.contacts()
    client.close()
    assert not [url for url in seen if "crmx" in url]


def test_a_next_link_that_never_ends_stops_at_max_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(multistore.clients.crm, "MAX_PAGES", 5)
    repeating = "https://crm.example.test/crm/dealers/crm-mock/contacts?page=2"
    client, seen = _mock_crm(lambda request: repeating)
    with pytest.raises(RuntimeError) as info:
        client.contacts()
    client.close()
    assert str(info.value) == (
        f"crm for store crm-mock: more than 5 pages of contacts, stopped before {repeating}"
    )
    assert len([url for url in seen if "/contacts" in url]) == 5


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"<html>502 Bad Gateway</html>", "body is not JSON ('<html>502 Bad Gateway</html>')"),
        (b'{"next": null}', "'items' is missing"),
    ],
)
def test_a_malformed_page_is_retried_then_one_line_naming_service_store_and_cause(
    body: bytes, cause: str
) -> None:
    client, seen = _mock_crm(lambda request: None, body=body)
    with pytest.raises(ServiceError) as info:
        client.contacts()
    client.close()
    assert str(info.value) == (
        f"crm for store crm-mock: HTTP 200 on GET /crm/dealers/crm-mock/contacts: {cause} "
        "after 6 attempts"
    )
    assert len([url for url in seen if "/contacts" in url]) == 6
