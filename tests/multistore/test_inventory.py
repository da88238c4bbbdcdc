"""HomeNet row validation and Dealer.com reconciliation."""

import io
from datetime import date

import pandas as pd
import pytest

from multistore.inventory import FeedError, parse_price, reconcile, validate_homenet

HEADER = "Type,Stock,VIN,Year,Make,Model,Trim,SellingPrice,MSRP,Miles,DateInStock,ImageList\n"
GOOD = [
    'New,A1,1HGCM82633A004352,2025,Honda,Accord,EX,39995,41250,5,2026-11-01,"http://i/1.jpg,http://i/2.jpg"\n',
    "Used,A2,JH2RC3605MM101581,2021,Honda,CBR,,12500.50,,23000,2026-10-01,\n",
    "Used,A3,1M8GDM9AXKP042788,1989,Motor Coach,MC9,,9000,,,2026-10-01,\n",
]
BAD = [
    ("New,B1,1HGCM82633A00435,2025,Honda,Accord,EX,1,1,0,,\n", "16 characters"),
    ("New,B2,1HGCM82643A004352,2025,Honda,Accord,EX,1,1,0,,\n", "check digit 4, expected 3"),
    ("New,B3,1HGCM82633A004352,2025,Honda,Accord,EX,1,1,0,,\n", "duplicate VIN"),
    ("New,B4,1HGCM82633A004352,1899,Honda,Accord,EX,1,1,0,,\n", "Year '1899'"),
    ("New,B5,1HGCM82633A004352,2025,Honda,Accord,EX,call,1,0,,\n", "SellingPrice 'call'"),
    ("New,B6,1HGCM82633A004352,2025,Honda,Accord,EX,1,1,-3,,\n", "Miles '-3'"),
    ("New,B7,1HGCM82633A004352,2025,Honda,Accord,EX,,1,0,,\n", "SellingPrice ''"),
]


def _feed(lines):
    return pd.read_csv(io.StringIO(HEADER + "".join(lines)), dtype=str, keep_default_na=False)


def test_good_rows_are_typed_and_bad_rows_carry_line_and_reason():
    result = validate_homenet(
        _feed(GOOD + [b for b, _ in BAD]), source="t", today=date(2026, 11, 23)
    )
    assert list(result.vehicles["Stock"]) == ["A1", "A2", "A3"]
    assert result.vehicles["SellingPrice"].tolist() == [39995.0, 12500.5, 9000.0]
    assert result.vehicles["Year"].dtype == "int64"
    assert result.vehicles["Miles"].isna().tolist() == [False, False, True]
    assert result.vehicles.loc[0, "ImageList"] == "http://i/1.jpg,http://i/2.jpg"
    assert list(result.rejects["Stock"]) == [f"B{n}" for n in range(1, 8)]
    assert list(result.rejects["row"]) == list(range(5, 12))
    for reason, (_, phrase) in zip(result.rejects["reason"], BAD, strict=True):
        assert phrase in reason
    assert result.metrics == {"rows": 10, "vehicles": 3, "rejects": 7}


@pytest.mark.parametrize(
    ("row", "phrase"),
    [
        (
            "Used,E1,2HGFC2F52JH000001,2025,Honda,Civic,,1,1,12.5,,\n",
            "Miles '12.5' is not a non-negative whole number",
        ),
        ("Used,E2,2HGFC2F52JH000001,²⁰²⁵,Honda,Civic,,1,1,5,,\n", "Year '²⁰²⁵'"),
        ("Used,E3,2HGFC2F52JH000001,²,Honda,Civic,,1,1,5,,\n", "Year '²'"),
        ("Used,E4,2HGFC2F52JH000001,２０２５,Honda,Civic,,1,1,5,,\n", "Year '２０２５'"),
        ("Used,E5,2HGFC2F52JH000001,2025,Honda,Civic,,1,١٢,5,,\n", "MSRP '١٢'"),
        ("Used,E6,2HGFC2F52JH000001,2025,Honda,Civic,,1,1,١٢,,\n", "Miles '١٢'"),
    ],
)
def test_values_pandas_cannot_type_are_rejected_rows_not_a_failed_feed(row, phrase):
    result = validate_homenet(_feed([*GOOD, row]), source="t", today=date(2026, 11, 23))
    assert list(result.vehicles["Stock"]) == ["A1", "A2", "A3"]
    assert result.vehicles["Miles"].tolist()[:2] == [5, 23000]
    assert list(result.rejects["row"]) == [5]
    assert phrase in result.rejects.loc[0, "reason"]


def test_a_row_with_several_problems_lists_them_all():
    result = validate_homenet(_feed(["New,C1,XYZ,20x5,,Accord,,abc,,,,\n"]), source="t")
    reason = result.rejects.loc[0, "reason"]
    assert "3 characters" in reason and "Year '20x5'" in reason
    assert "Make is empty" in reason and "SellingPrice 'abc'" in reason


def test_next_years_models_are_fine_the_year_after_is_not():
    row = "New,D1,1HGCM82633A004352,{year},Honda,Accord,EX,1,,,,\n"
    today = date(2026, 11, 23)
    assert (
        len(validate_homenet(_feed([row.format(year=2027)]), source="t", today=today).vehicles) == 1
    )
    assert (
        len(validate_homenet(_feed([row.format(year=2028)]), source="t", today=today).rejects) == 1
    )


def test_a_feed_without_required_columns_fails_naming_them():
    feed = pd.DataFrame({"VIN": ["1HGCM82633A004352"], "Make": ["Honda"]})
    with pytest.raises(
        FeedError, match=r"store-1 homenet: HomeNet feed lacks column.s. Year, Model"
    ):
        validate_homenet(feed, source="store-1 homenet")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$41,250", 41250.0),
        ("$39,995.50", 39995.5),
        ("1234", 1234.0),
        ("", None),
        (None, None),
        (7, 7.0),
    ],
)
def test_parse_price(text, value):
    assert parse_price(text) == value


@pytest.mark.parametrize("text", ["$41,25", "call", "$-5", "1,2345"])
def test_unreadable_prices_are_named(text):
    with pytest.raises(ValueError, match=r"item 3: .* is not a price"):
        parse_price(text, where="item 3")


def test_reconcile_finds_missing_extra_and_mismatched_prices():
    vehicles = pd.DataFrame({"VIN": ["AAA", "BBB", "CCC"], "SellingPrice": [100.0, 200.0, 300.0]})
    listing = [
        {"vin": "AAA", "pricing": {"finalPrice": "$100"}},
        {"vin": "bbb", "pricing": {"finalPrice": "$250"}},
        {"vin": "DDD", "pricing": {"finalPrice": "$400"}},
        {"vin": "EEE", "pricing": {"finalPrice": "free"}},
    ]
    result = reconcile(vehicles, listing)
    by_issue = {row.issue: row for row in result.issues.itertuples()}
    assert by_issue["missing"].vin == "CCC"
    assert by_issue["extra"].vin == "DDD"
    assert (by_issue["price_mismatch"].vin, by_issue["price_mismatch"].dealercom_price) == (
        "BBB",
        250.0,
    )
    assert "'free' is not a price" in by_issue["unreadable"].detail
    assert result.metrics == {
        "homenet_vehicles": 3,
        "listed": 4,
        "matched": 2,
        "missing": 1,
        "extra": 1,
        "price_mismatch": 1,
        "unreadable": 1,
    }
