"""The do-not-call scrub service: unique numbers in batches, one verdict per number.

Each batch request holds a slot of `api:dnc` (requests in flight across all stores and workers)
and each try first waits for `rate:api:dnc`, so retries spend rate too and the vendor's limit holds
however many stores run. An answer without a verdict for every number it was asked about is
MALFORMED (retried, then one line).
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
