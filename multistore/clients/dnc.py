"""The do-not-call scrub service: unique numbers in batches, one verdict per number.

A scrub holds one slot of `api:dnc` for all its batches (`hold="session"`), and each try of each
batch first waits for `rate:api:dnc`, so retries spend rate too and the vendor's limit holds
however many stores run. A store sends its batches one at a time, so the slot still bounds the
requests in flight across all stores and workers (one per slot). It is not taken per request
because taking and giving back a Prefect slot is two round trips to the server (0.33 s a request
at load 9, more under heavier load; bench/dnc_pool.py prints them): paid on every request, they
leave a store alone too slow for the vendor's rate (one request every 0.5 s), and the pool's rate
went unused whenever one store was left scrubbing (the uneven stores' tail). An answer without
a verdict for every number it was asked about is MALFORMED (retried, then one line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from multistore.calls import CallFailed, Kind, json_body, require
from multistore.clients.base import HttpClient
from multistore.pools import API_DNC


@dataclass(frozen=True)
class DNCConfig:
    base_url: str
    api_key: SecretStr
    batch_size: int = 1000


class DNCClient(HttpClient):
    service = "dnc"
    pool = API_DNC
    rate = True
    hold = "session"
    # A 429 storm and 5xx together may take several tries; every try waits for the rate first.
    attempts = 12

    def __init__(self, config: DNCConfig, **options: Any) -> None:
        super().__init__(**options)
        self.config = config
        self.url = f"{config.base_url.rstrip('/')}/dnc/scrub"
        self.batches = 0

    def scrub(self, numbers: list[str]) -> dict[str, tuple[str, str]]:
        """number → (code, reason) for every number, `batch_size` numbers per request."""
        verdicts: dict[str, tuple[str, str]] = {}
        size = self.config.batch_size
        if not numbers:
            return verdicts
        with self.caller.session():
            for start in range(0, len(numbers), size):
                batch = numbers[start : start + size]
                verdicts.update(self.caller.call(lambda b=batch: self._scrub(b)))
                self.batches += 1
        return verdicts

    def _scrub(self, batch: list[str]) -> dict[str, tuple[str, str]]:
        headers = {
            "X-API-Key": self.config.api_key.get_secret_value(),
            "X-Store-Id": self.store_id,
        }
        response = self.http.post(
            self.url, json={"numbers": batch, "ignore_invalid": True}, headers=headers
        )
        results = require(json_body(response), "results", list, response)
        verdicts: dict[str, tuple[str, str]] = {}
        for result in results:
            if not isinstance(result, dict) or "number" not in result or "code" not in result:
                detail = f"POST /dnc/scrub: a result without number and code: {result!r}"
                raise CallFailed(Kind.MALFORMED, detail[:200])
            verdicts[str(result["number"])] = (str(result["code"]), str(result.get("reason", "")))
        missing = [n for n in batch if n not in verdicts]
        if missing:
            raise CallFailed(
                Kind.MALFORMED,
                f"POST /dnc/scrub: no verdict for {len(missing)} number(s), first {missing[0]}",
            )
        return verdicts
