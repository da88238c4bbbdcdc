"""Each fault works, is deterministic under the seed, and stops when switched off."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.sandbox.conftest import crm_headers, crm_token

DNC = {"X-API-Key": "sandbox-dnc-key"}


def scrub(base: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{base}/dnc/scrub", headers=DNC, json={"numbers": ["2135550142"]}, **kwargs)


def contacts(base: str, dealer: str, token: str, **kwargs) -> httpx.Response:
    return httpx.get(
        f"{base}/crm/dealers/{dealer}/contacts?pageSize=1", headers=crm_headers(token), **kwargs
    )


def test_latency_applies_to_its_store_only(sandbox):
    token = crm_token(sandbox.url)
    sandbox.admin.set_faults([{"vendor": "crm", "store": "slow-store", "latency_ms": 400}])
    started = time.monotonic()
    assert contacts(sandbox.url, "slow-store", token).status_code == 200
    assert time.monotonic() - started >= 0.4
    assert contacts(sandbox.url, "fast-store", token).status_code == 200
    stores = sandbox.admin.counters()["stores"]
    assert stores["slow-store"]["crm"]["delayed"] == 1
    assert stores["fast-store"]["crm"]["delayed"] == 0  # the other store was not held up
    sandbox.admin.clear_faults()
    assert contacts(sandbox.url, "slow-store", token).status_code == 200
    assert sandbox.admin.counters()["stores"]["slow-store"]["crm"]["delayed"] == 1


def test_error_rate_is_a_deterministic_share_of_5xx(sandbox):
    def pattern() -> list[int]:
        sandbox.admin.set_faults([{"vendor": "dnc", "error_rate": 0.5}])
        return [scrub(sandbox.url).status_code for _ in range(40)]

    sandbox.admin.set_limits(dnc=None)
    first = pattern()
    assert set(first) <= {200, 500, 502, 503}
    failures = sum(code >= 500 for code in first)
    assert 8 <= failures <= 32
    assert pattern() == first, "same seed, same faults, same requests: same answers"
    assert sandbox.admin.vendor_counts("dnc")["server_errors"] == failures * 2
    sandbox.admin.clear_faults()
    assert {scrub(sandbox.url).status_code for _ in range(10)} == {200}


def test_rate_limit_storm_and_its_end(sandbox):
    sandbox.admin.set_faults([{"vendor": "dnc", "rate_limit_storm": 1.0, "retry_after": 3}])
    storm = [scrub(sandbox.url) for _ in range(5)]
    assert {r.status_code for r in storm} == {429}
    assert storm[0].headers["retry-after"] == "3"
    counts = sandbox.admin.vendor_counts("dnc")
    assert (counts["rate_limited"], counts["over_limit"]) == (5, 0)  # a storm is no overrun
    sandbox.admin.clear_faults()
    assert scrub(sandbox.url).status_code == 200


def test_outage_for_a_period_ends_by_itself(sandbox):
    token = crm_token(sandbox.url)
    sandbox.admin.set_faults(
        [{"vendor": "crm", "store": "store-0009", "outage": True, "for_seconds": 60}]
    )  # long enough that a slow machine still sees the outage before the clock is moved
    down = contacts(sandbox.url, "store-0009", token)
    assert down.status_code == 503
    assert down.json()["error"] == "service_unavailable"
    assert contacts(sandbox.url, "store-0001", token).status_code == 200
    sandbox.admin.advance_clock(60.1)
    assert contacts(sandbox.url, "store-0009", token).status_code == 200
    assert sandbox.admin.faults() == []


def test_login_failures_show_an_error_then_stop(sandbox):
    form = {"username": "store-0002-user", "password": "sandbox-password"}
    sandbox.admin.set_faults([{"vendor": "crm_ui", "login_failure_rate": 1.0}])
    failed = httpx.post(f"{sandbox.url}/crm/ui/login", data=form)
    assert failed.status_code == 503
    assert "Sign-in failed" in failed.text
    sandbox.admin.clear_faults()
    ok = httpx.post(f"{sandbox.url}/crm/ui/login", data=form)
    assert ok.status_code == 303
    counts = sandbox.admin.vendor_counts("crm_ui")
    assert (counts["login_failures"], counts["logins"]) == (1, 1)


def test_hang_never_answers_until_the_client_gives_up(sandbox):
    sandbox.admin.set_faults([{"vendor": "dnc", "hang_rate": 1.0}])
    with pytest.raises(httpx.ReadTimeout):
        scrub(sandbox.url, timeout=0.5)
    assert sandbox.admin.vendor_counts("dnc")["hangs"] == 1
    sandbox.admin.clear_faults()
    assert scrub(sandbox.url, timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("faults", "field"),
    [
        ([{"vendor": "dnc", "error_rate": 2}], "faults[0].error_rate"),
        ([{"vendor": "dnc", "explode": True}], "faults[0].explode"),
        ("everything", "faults must be a list"),
    ],
)
def test_bad_faults_are_refused_naming_the_field(sandbox, faults, field):
    sandbox.admin.set_faults([{"vendor": "dnc", "latency_ms": 1}])
    response = httpx.put(f"{sandbox.url}/admin/faults", json=faults)
    assert response.status_code == 400
    assert field in response.json()["reason"]
    assert sandbox.admin.faults() == [{"vendor": "dnc", "latency_ms": 1}], "old faults kept"


def test_faults_file_is_read_at_start(tmp_path):
    from sandbox.config import SandboxConfig, load_faults
    from sandbox.server import serve_in_thread

    path = tmp_path / "faults.yaml"
    path.write_text("- vendor: dnc\n  outage: true\n")
    handle = serve_in_thread(SandboxConfig(faults=load_faults(path)))
    try:
        assert scrub(handle.url).status_code == 503
    finally:
        handle.stop()
    path.write_text("- vendor: dnc\n  error_rate: nope\n")
    with pytest.raises(ValueError, match=r"faults\.yaml: faults\[0\]\.error_rate"):
        load_faults(path)
