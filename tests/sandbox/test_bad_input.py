"""Whatever a client sends, the answer is a vendor-style error, never a 500."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sandbox.conftest import crm_headers, crm_token

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
bodies = (
    json_values
    | st.fixed_dictionaries({"numbers": st.lists(st.text(max_size=12) | st.integers(), max_size=5)})
    | st.fixed_dictionaries({"url": st.text(max_size=40)})
)
params = st.text(max_size=12)


@pytest.fixture
def http(sandbox):
    sandbox.admin.set_limits(dnc=None, shortener=None, dealercom=None)
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client


def assert_vendor_error(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error", "reason"}
        assert body["reason"]


@FUZZ
@given(body=bodies)
def test_json_endpoints(http, body):
    for path, headers in (
        ("/dnc/scrub", {"X-API-Key": "sandbox-dnc-key"}),
        ("/shortener/shorten", {"X-API-Key": "sandbox-shortener-key"}),
    ):
        assert_vendor_error(http.post(path, json=body, headers=headers))


@FUZZ
@given(raw=st.binary(max_size=60), kind=st.sampled_from(["application/json", "text/plain", ""]))
def test_raw_bodies(http, raw, kind):
    headers = {"Content-Type": kind} if kind else {}
    for path in ("/dnc/scrub", "/shortener/shorten", "/crm/oauth/token"):
        key = {"X-API-Key": "sandbox-dnc-key" if "dnc" in path else "sandbox-shortener-key"}
        assert_vendor_error(http.post(path, content=raw, headers={**headers, **key}))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_vendor_error(http.post("/crm/oauth/token", content=raw, headers=form))
    assert http.post("/crm/ui/login", content=raw, headers=form).status_code < 500


@FUZZ
@given(page=params, size=params, start=params)
def test_paging_parameters(http, sandbox, page, size, start):
    headers = crm_headers(crm_token(sandbox.url))
    got = http.get(
        "/crm/dealers/d1/contacts", params={"page": page, "pageSize": size}, headers=headers
    )
    assert_vendor_error(got)
    got = http.get("/dealercom/d1/getInventory", params={"start": start, "pageSize": size})
    assert_vendor_error(got)


@FUZZ
@given(ident=st.text(min_size=1, max_size=20))
def test_path_identifiers(http, ident):
    segment = quote(ident, safe="")
    for path in (
        f"/vdp/d1/{segment}",
        f"/vdp/api/d1/{segment}.json",
        f"/s/{segment}",
        f"/crm/ui/api/dealers/d1/contacts/{segment}",
        f"/homenet/{segment}/inventory.csv?key=sandbox-homenet-key",
        f"/dealercom/{segment}/getInventory?pageSize=1",
        f"/crm/ui/dealers/{segment}/contacts",
    ):
        assert http.get(path).status_code < 500, path
    listed = http.get(f"/dealercom/{segment}/getInventory?pageSize=1")
    if listed.status_code == 200:
        link = listed.json()["inventory"][0]["link"]
        page = http.get(link)
        assert page.status_code == 200
        assert "<script>" not in ident or page.text.count("<script>") == 1


@FUZZ
@given(body=json_values)
def test_admin_faults_and_limits(http, body):
    assert_vendor_error(http.put("/admin/faults", json=body))
    assert_vendor_error(http.put("/admin/limits", json=body))
    http.delete("/admin/faults")
    http.put("/admin/limits", json={"dnc": None, "shortener": None, "dealercom": None})
