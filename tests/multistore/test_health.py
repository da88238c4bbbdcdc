"""Health rules in-process: lag since the window opened, quarantine, circuits, unreachable parts."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx

from multistore.breaker import BreakerPolicy, CircuitBreaker
from multistore.health import DEGRADED, OK, UNAVAILABLE, check_health
from multistore.outside_systems import Probe
from multistore.prefect_api import PrefectAPI
from multistore.registry import Registry

CHICAGO = ZoneInfo("America/Chicago")


def prefect_up() -> PrefectAPI:
    """A Prefect server that answers its health check and holds every store's block documents
    (each role's default names for the stores these tests add), in-process."""
    stores = ["night", "always", "dealer", "feeds"]
    names = [f"{role}-{s}" for s in stores for role in ("crm", "inventory")]
    names += ["dnc-default", "shortener-default"]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/block_documents/filter"):
            docs = [{"name": n, "data": {"base_url": "http://vendor.test/x"}} for n in names]
            return httpx.Response(200, json=docs)
        return httpx.Response(200, json=True)

    return PrefectAPI(
        "http://prefect.test/api", http=httpx.Client(transport=httpx.MockTransport(answer))
    )


def answering(url: str) -> Probe:
    return Probe(True, "HTTP 200")


def by_id(health) -> dict:  # type: ignore[no-untyped-def]
    return {s["id"]: s for s in health.stores}


def test_lag_counts_from_the_window_opening_until_a_run_completes(registry_url: str) -> None:
    registry = Registry(registry_url)
    registry.add("night", timezone="America/Chicago", window="22:00-23:30")
    registry.add("always")
    now = datetime(2026, 3, 2, 22, 30, tzinfo=CHICAGO).astimezone(UTC)

    health = check_health(now, registry_url=registry_url, prefect=prefect_up(), prober=answering)
    assert health.status == OK and health.http_status == 200
    night = by_id(health)["night"]
    assert night["lag_seconds"] == 1800.0
    assert night["window_opened_at"] == datetime(2026, 3, 3, 4, 0, tzinfo=UTC).isoformat()
    assert by_id(health)["always"]["lag_seconds"] is None  # no window: nothing is late

    run = registry.start_run("night", None)
    registry.finish_run(run, "completed")  # finished now (after 22:00 local on the real clock)
    health = check_health(now, registry_url=registry_url, prefect=prefect_up(), prober=answering)
    assert by_id(health)["night"]["lag_seconds"] is None
    assert by_id(health)["night"]["last_success_at"] is not None


def test_quarantine_and_an_open_circuit_degrade(registry_url: str) -> None:
    registry = Registry(registry_url)
    registry.add("dealer", jobs=["dnc_compliance"])
    registry.add("feeds", jobs=["homenet_feed"])
    for _ in range(2):
        registry.record_outcome("dealer", False, "boom", threshold=2)
    circuit = CircuitBreaker(
        "dnc", policy=BreakerPolicy(threshold=1, cooldown_seconds=60), url=registry_url
    )
    circuit.record_failure("HTTP 503")
    now = datetime.now(UTC)

    health = check_health(now, registry_url=registry_url, prefect=prefect_up(), prober=answering)
    assert health.status == DEGRADED and health.http_status == 200
    dealer = by_id(health)["dealer"]
    assert dealer["quarantined"] and dealer["consecutive_failures"] == 2
    assert dealer["circuits"] == {"crm": "closed", "dnc": "open", "crm_ui": "closed"}
    assert by_id(health)["feeds"]["circuits"] == {"homenet": "closed"}
    assert [c["service"] for c in health.circuits if c["state"] == "open"] == ["dnc"]


def test_an_unreachable_prefect_server_is_503_with_the_reason(registry_url: str) -> None:
    Registry(registry_url).add("dealer")
    down = PrefectAPI("http://127.0.0.1:9/api")  # discard port: nothing listens
    health = check_health(datetime.now(UTC), registry_url=registry_url, prefect=down)
    assert health.status == UNAVAILABLE and health.http_status == 503
    assert len(health.reasons) == 1
    assert health.reasons[0].startswith("Prefect server http://127.0.0.1:9/api is not reachable")
    assert [s["id"] for s in health.stores] == ["dealer"]  # the registry part still answers


def test_no_prefect_url_is_named(registry_url: str) -> None:
    health = check_health(datetime.now(UTC), registry_url=registry_url, prefect=PrefectAPI(""))
    assert health.reasons == ["Prefect server: PREFECT_API_URL is not set"]


def test_a_missed_window_keeps_lagging_after_it_closed(registry_url: str) -> None:
    registry = Registry(registry_url)
    registry.add("night", timezone="America/Chicago", window="22:00-23:30")
    # 21:00 local: closed, and the last opening (yesterday 22:00) saw no completed run.
    now = datetime(2026, 3, 3, 21, 0, tzinfo=CHICAGO).astimezone(UTC)
    health = check_health(now, registry_url=registry_url, prefect=prefect_up(), prober=answering)
    assert by_id(health)["night"]["lag_seconds"] == 23 * 3600.0
