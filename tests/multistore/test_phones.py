"""Phone normalisation: the NANP rule, each reason, and agreement with a one-at-a-time oracle."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multistore import phones
from multistore.phones import normalise, unique_numbers
from tests.fixtures.phones import nanp_digits


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(213) 555-0142", "+12135550142"),
        ("213.555.0142", "+12135550142"),
        ("+1 213 555 0142", "+12135550142"),
        ("1-213-555-0142", "+12135550142"),
        ("  2135550142  ", "+12135550142"),
        ("+1 (415) 555-0199", "+14155550199"),
    ],
)
def test_formatting_and_country_code_are_accepted(raw: str, e164: str) -> None:
    row = normalise([raw]).iloc[0]
    assert row["valid"] and row["e164"] == e164 and row["digits"] == e164[2:]
    assert pd.isna(row["invalid_reason"])


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, phones.EMPTY),
        ("", phones.EMPTY),
        ("---", phones.EMPTY),
        ("213-555-CALL", phones.LETTERS),
        ("1-800-FLOWERS", phones.LETTERS),
        ("２１３-555-0142", phones.LETTERS),
        ("+44 20 7946 0958 ext 3", phones.LETTERS),  # letters, and no valid number before them
        ("555-0142 #12", phones.TOO_SHORT),
        ("+44 20 7946 0958", phones.COUNTRY),
        ("555-0142", phones.TOO_SHORT),
        ("22135550142", phones.TOO_LONG),
        ("1-213-555-01420", phones.TOO_LONG),
        ("013-555-0142", phones.NPA_LEADING),
        ("113-555-0142", phones.NPA_LEADING),
        ("911-555-0142", phones.NPA_N11),
        ("213-055-0142", phones.NXX_LEADING),
        ("213-411-0142", phones.NXX_N11),
    ],
)
def test_invalid_numbers_carry_the_first_failing_reason(raw: str | None, reason: str) -> None:
    row = normalise([raw]).iloc[0]
    assert not row["valid"]
    assert row["invalid_reason"] == reason
    assert pd.isna(row["e164"]) and pd.isna(row["digits"])


@pytest.mark.parametrize(
    ("raw", "annotation"),
    [
        ("213-555-0142 x12", "x12"),
        ("(213) 555-0142 ext. 4", "ext. 4"),
        ("213.555.0142 (cell)", "(cell)"),
        ("213-555-0142 #204", "#204"),
        ("+1 213 555 0142, mom", "mom"),
        ("2135550142;work", "work"),
        ("213-555-0142 é", "é"),
    ],
)
def test_a_note_after_a_valid_number_is_kept_aside(raw: str, annotation: str) -> None:
    row = normalise([raw]).iloc[0]
    assert row["valid"] and row["digits"] == "2135550142"
    assert row["annotation"] == annotation and pd.isna(row["invalid_reason"])


def test_series_index_and_order_are_kept() -> None:
    raw = pd.Series(["911-555-0142", "(213) 555-0142", None], index=[10, 5, 7])
    out = normalise(raw)
    assert list(out.index) == [10, 5, 7]
    assert out["valid"].tolist() == [False, True, False]


@pytest.mark.parametrize("index", [["a", "b", "c"], [10, 5, 7], [2, 1, 0]])
def test_numbers_follow_their_row_whatever_the_index(index: list[object]) -> None:
    raw = pd.Series(["(213) 555-0142", "911-555-0142", "+1 415 555 0199"], index=index)
    out = normalise(raw)
    assert list(out.index) == index
    assert out["valid"].tolist() == [True, False, True]
    assert out["digits"].tolist()[::2] == ["2135550142", "4155550199"]
    assert out["e164"].tolist()[::2] == ["+12135550142", "+14155550199"]
    assert pd.isna(out["digits"].iloc[1]) and pd.isna(out["e164"].iloc[1])
    assert unique_numbers(out) == ["2135550142", "4155550199"]


def test_duplicates_fold_to_one_number_each() -> None:
    out = normalise(["(213) 555-0142", "+1 213 555 0142", "310-555-0100", "bad"])
    assert unique_numbers(out) == ["2135550142", "3105550100"]


def test_empty_input() -> None:
    out = normalise([])
    assert len(out) == 0
    assert list(out.columns) == ["digits", "e164", "valid", "invalid_reason", "annotation"]


_phoneish = st.text(alphabet="0123456789 +-().x#,;é", max_size=18) | st.from_regex(
    r"\+?1?[ .-]?\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4}", fullmatch=True
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.none() | _phoneish, max_size=40))
def test_vectorised_agrees_with_the_oracle(raws: list[str | None]) -> None:
    out = normalise(raws)
    got = [None if pd.isna(d) else d for d in out["digits"]]
    assert got == [nanp_digits(r) for r in raws]
    assert out["valid"].tolist() == [nanp_digits(r) is not None for r in raws]
