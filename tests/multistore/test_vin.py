"""VIN validation: the published examples pass; every kind of damage is named."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from multistore.vin import check_digit, is_valid_vin, vin_problem

VALID = ["1M8GDM9AXKP042788", "JH2RC3605MM101581", "1HGCM82633A004352"]


@pytest.mark.parametrize("vin", VALID)
def test_published_examples_are_valid(vin):
    assert vin_problem(vin) is None
    assert is_valid_vin(vin.lower())


def test_check_digit_ten_is_written_x():
    assert check_digit("1M8GDM9AXKP042788") == "X"


@pytest.mark.parametrize(
    ("vin", "phrase"),
    [
        ("", "missing"),
        (None, "missing"),
        ("1HGCM82633A00435", "16 characters"),
        ("1HGCM82633A0043I2", "contains I"),
        ("1HGCM8263OA004352", "contains O"),
        ("1HGCM82643A004352", "check digit 4, expected 3"),
    ],
)
def test_problems_are_named(vin, phrase):
    assert phrase in vin_problem(vin)


ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17))
def test_writing_the_computed_check_digit_makes_any_vin_valid(body):
    vin = body[:8] + check_digit(body) + body[9:]
    assert is_valid_vin(vin)
    wrong = "0" if vin[8] != "0" else "1"
    assert not is_valid_vin(vin[:8] + wrong + vin[9:])
