"""The CRM API client against the sandbox: pagination, token renewal, one-line refusals."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from blocks.sandbox import store_block
from multistore.retry import ServiceError
from tasks.crm import CRMClient


def test_all_pages_and_a_new_token_when_the_old_one_expires(
    sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox.state.config, "contacts_per_store", 23)
    credentials = store_block("crm", "crm-pages", sandbox.url)
    credentials.page_size = 5
    client = CRMClient(credentials, store_id="crm-pages")
    try:
        first = client.contacts()
        assert client.tokens_fetched == 1
        # The server forgets every token it issued (as when they expire): the next call meets
        # a 401 and the client fetches a new token, once.
        sandbox.state.tokens.clear()
        second = client.contacts()
    finally:
        client.close()
    assert [c["ContactId"] for c in first] == [c["ContactId"] for c in second]
    assert len(first) == 23 and len({c["ContactId"] for c in first}) == 23
    assert first == sandbox.admin.crm_contacts("crm-pages")
    assert client.tokens_fetched == 2


def test_a_wrong_api_key_fails_at_once_naming_service_and_store(sandbox) -> None:
    credentials = store_block("crm", "crm-keys", sandbox.url)
    credentials.api_key = SecretStr("wrong")
    client = CRMClient(credentials, store_id="crm-keys")
    sandbox.admin.reset_counters()
    with pytest.raises(ServiceError) as info:
        client.contacts()
    client.close()
    assert str(info.value) == (
        "crm for store crm-keys: HTTP 403 on GET /crm/dealers/crm-keys/contacts: "
        "forbidden: missing or wrong api_key header"
    )
    assert sandbox.admin.vendor_counts("crm")["requests"] == 2  # the token, then one refusal


def test_the_probe_after_the_cooldown_really_asks_the_crm(sandbox, isolated_settings) -> None:
    """A new client has no token: its token request is the probe, and a failing probe reopens."""
    import time

    from multistore.breaker import breaker

    isolated_settings.mkdir(parents=True, exist_ok=True)
    (isolated_settings / "breakers.yaml").write_text(
        "breakers:\n  crm: {threshold: 1, cooldown_seconds: 1}\n"
    )
    sandbox.admin.set_faults([{"vendor": "crm", "store": "crm-down", "outage": True}])

    def fetch() -> None:
        client = CRMClient(store_block("crm", "crm-down", sandbox.url), store_id="crm-down")
        try:
            with pytest.raises(ServiceError, match=r"^crm for store crm-down: "):
                client.contacts()
        finally:
            client.close()

    fetch()
    assert breaker("crm").status().state == "open"
    time.sleep(1.2)
    sandbox.admin.reset_counters()
    fetch()
    assert sandbox.admin.vendor_counts("crm")["requests"] >= 1  # the probe went out
    assert breaker("crm").status().state == "open"  # and its failure reopened the circuit


def _mock_crm(next_link) -> tuple[CRMClient, list[str]]:
    """A client whose CRM answers every contacts page with one item and `next_link(url)`."""
    import httpx

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json={"access_token": "t"})
        return httpx.Response(200, json={"items": [{"ContactId": 1}], "next": next_link(request)})

    credentials = store_block("crm", "crm-mock", "https://crm.example.test")
    client = CRMClient(
        credentials, store_id="crm-mock", http=httpx.Client(transport=httpx.MockTransport(handler))
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
    import tasks.crm

    monkeypatch.setattr(tasks.crm, "MAX_PAGES", 5)
    repeating = "https://crm.example.test/crm/dealers/crm-mock/contacts?page=2"
    client, seen = _mock_crm(lambda request: repeating)
    with pytest.raises(RuntimeError) as info:
        client.contacts()
    client.close()
    assert str(info.value) == (
        f"crm for store crm-mock: more than 5 pages of contacts, stopped before {repeating}"
    )
    assert len([url for url in seen if "/contacts" in url]) == 5
