"""The conflict book on both registry databases: recorded once, settled by policy with who
decided, manual ones queued until a person resolves them."""

from __future__ import annotations

import pandas as pd
import pytest

from multistore.channels.conflicts import COLUMNS, ConflictPolicy
from multistore.channels.review import ConflictBook, ConflictNotFound

FOUND = pd.DataFrame(
    [
        ("stock_mismatch", "A", "ebay", 5.0, 3.0, "count differs"),
        ("overselling", "B", "*", 4.0, 5.0, "channels together sold beyond on hand"),
        ("product_info", "C", "shopify", None, None, "title differs: Cap (2)"),
    ],
    columns=COLUMNS,
)


def test_record_settle_and_resolve_by_hand(registry_url: str) -> None:
    book = ConflictBook(registry_url)
    assert book.record("s1", FOUND) == 3
    assert book.record("s1", FOUND) == 0  # found again next sync: still one row each
    counts = book.settle("s1", ConflictPolicy())
    assert counts == {"resolved": 2, "queued": 1}
    mismatch = book.list("s1", status="resolved")[0]
    (decision,) = book.resolutions(mismatch.id)
    # Conservative by default: the fewer units, decided by the policy.
    assert (decision.value, decision.decided_by) == (3.0, "policy:conservative")
    (queued,) = book.list("s1")
    assert queued.kind == "overselling"
    decision = book.resolve_by_hand(queued.id, value=4, who="ana", note="refunded order o5")
    assert decision.decided_by == "user:ana"
    assert book.list("s1") == []
    with pytest.raises(ConflictNotFound, match="already resolved"):
        book.resolve_by_hand(queued.id, value=4, who="ana")


def test_weighted_policy_uses_reliability(registry_url: str) -> None:
    book = ConflictBook(registry_url)
    book.record("s1", FOUND.iloc[:1])
    policy = ConflictPolicy.from_mapping({"rules": {"stock_mismatch": "weighted"}})
    book.settle("s1", policy, weights={"inventory": 0.9, "ebay": 0.1})
    (row,) = book.list("s1", status="resolved")
    (decision,) = book.resolutions(row.id)
    assert decision.value == 4.0  # (0.9·5 + 0.1·3) / 1.0 = 4.8 → 4 whole units
    assert decision.decided_by == "policy:weighted"


def test_reliability_is_read_back_from_the_recorded_syncs(registry_url: str) -> None:
    book = ConflictBook(registry_url)
    for n in range(8):
        book.record_syncs("s1", {"shopify": True, "ebay": n == 0})
    weights = book.reliability("s1")
    assert weights["inventory"] == 1.0
    assert weights["shopify"] == pytest.approx(0.9)  # (8 + 1) / (8 + 2)
    assert weights["ebay"] == pytest.approx(0.2)  # (1 + 1) / (8 + 2)
    assert "square" not in weights  # no history: the rule weighs it ½
