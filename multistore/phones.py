"""North American phone numbers to E.164, a whole column at a time.

The rule (NANP): optional `+1`/`1` country code, then exactly ten digits NPA-NXX-XXXX, where the
area code (NPA) and the exchange (NXX) start with 2-9 and are not N11 (211, 311, … 911). Formatting
(spaces, dashes, dots, parentheses) is ignored; letters and any non-ASCII character are not
(vanity numbers, extensions and full-width digits are rejected rather than guessed at). A number
failing the rule gets the first reason that applies, in the order of `REASONS`.

Vectorised over the column's raw UTF-8 bytes with numpy (the Arrow buffers, no per-number Python):
a regex kernel was the slowest step by far. bench/normalise.py measures it against `phonenumbers`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

EMPTY = "empty"
LETTERS = "contains letters"
COUNTRY = "country code not +1"
TOO_SHORT = "too short"
TOO_LONG = "too long"
NPA_LEADING = "area code starts with 0 or 1"
NPA_N11 = "area code N11"
NXX_LEADING = "exchange starts with 0 or 1"
NXX_N11 = "exchange N11"
REASONS = (
    LETTERS,
    EMPTY,
    COUNTRY,
    TOO_SHORT,
    TOO_LONG,
    NPA_LEADING,
    NPA_N11,
    NXX_LEADING,
    NXX_N11,
)

_ZERO, _ONE, _NINE, _PLUS = ord("0"), ord("1"), ord("9"), ord("+")


def normalise(raw: Iterable[str | None] | pd.Series) -> pd.DataFrame:
    """One row per input, same order (and index, for a Series): `digits` (the 10-digit national
    number), `e164`, `valid`, `invalid_reason` (categorical). Invalid rows have null numbers."""
    index = raw.index if isinstance(raw, pd.Series) else None
    text = _as_arrow(raw)
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset : text.offset + n + 1]
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    lengths = np.diff(offsets)

    is_digit = (data >= _ZERO) & (data <= _NINE)
    lower = data | 0x20
    # Non-ASCII bytes count as letters: full-width digits or accented words are not a number.
    is_letter = ((lower >= ord("a")) & (lower <= ord("z"))) | (data >= 0x80)
    n_digits = _per_row(is_digit, offsets)
    has_letters = _per_row(is_letter, offsets) > 0

    digits = data[is_digit]
    starts = np.concatenate(([0], np.cumsum(n_digits)[:-1]))
    first_digit = _at(digits, starts, n_digits > 0)
    first_char = _at(data, offsets[:-1], lengths > 0)
    with_country = (n_digits == 11) & (first_digit == _ONE)
    national = starts + with_country
    national_len = n_digits - with_country

    def digit(k: int) -> np.ndarray:
        return _at(digits, national + k, national_len > k)

    conditions = [
        has_letters,
        n_digits == 0,
        (first_char == _PLUS) & (first_digit != _ONE),
        national_len < 10,
        national_len > 10,
        digit(0) <= _ONE,
        (digit(1) == _ONE) & (digit(2) == _ONE),
        digit(3) <= _ONE,
        (digit(4) == _ONE) & (digit(5) == _ONE),
    ]
    # Category code per row: -1 (valid) or the index of the first failing check.
    code = np.select(conditions, list(range(len(REASONS))), default=-1)
    valid = code < 0

    national_digits = digits[national[valid, None] + np.arange(10)]
    prefix = np.broadcast_to(np.array([_PLUS, _ONE], dtype=np.uint8), (len(national_digits), 2))
    return pd.DataFrame(
        {
            "digits": _strings(national_digits, valid),
            "e164": _strings(np.hstack([prefix, national_digits]), valid),
            "valid": valid,
            "invalid_reason": pd.Categorical.from_codes(code, categories=list(REASONS)),
        },
        index=index,
    )


def unique_numbers(normalised: pd.DataFrame) -> list[str]:
    """The distinct valid 10-digit numbers, sorted: one scrub per number however many contacts
    share it (the scrub answer maps back to every row through `digits`)."""
    return sorted(normalised.loc[normalised["valid"], "digits"].dropna().unique().tolist())


def _as_arrow(raw: Iterable[str | None] | pd.Series) -> pa.StringArray:
    if isinstance(raw, pd.Series):
        array = pa.chunked_array([pa.array(raw, type=pa.string(), from_pandas=True)])
    else:
        array = pa.chunked_array([pa.array(list(raw), type=pa.string())])
    text = pc.utf8_trim_whitespace(pc.fill_null(array.combine_chunks(), ""))
    return text.cast(pa.string())


def _per_row(mask: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """How many bytes of each row `mask` selects (a running count read at the row bounds)."""
    running = np.concatenate(([0], np.cumsum(mask, dtype=np.int32)))
    return running[offsets[1:]] - running[offsets[:-1]]


def _at(values: np.ndarray, positions: np.ndarray, present: np.ndarray) -> np.ndarray:
    """`values[positions]` where `present`, 0 elsewhere (0 fails every digit/sign test)."""
    out = np.zeros(len(positions), dtype=np.uint8)
    out[present] = values[positions[present]]
    return out


def _strings(rows: np.ndarray, valid: np.ndarray) -> pd.arrays.ArrowExtensionArray:
    """Fixed-width byte rows (one per valid entry) as a nullable Arrow string array.

    An array, not a Series: the caller's frame takes the input's index, and a Series would be
    aligned to it by label instead of by position."""
    width = rows.shape[1]
    lengths = np.where(valid, width, 0).astype(np.int32)
    offsets = np.concatenate(([0], np.cumsum(lengths, dtype=np.int32))).astype(np.int32)
    bitmap = np.packbits(valid, bitorder="little")
    array = pa.StringArray.from_buffers(
        len(valid),
        pa.py_buffer(offsets),
        pa.py_buffer(np.ascontiguousarray(rows).tobytes()),
        pa.py_buffer(bitmap),
        null_count=int((~valid).sum()),
    )
    return pd.arrays.ArrowExtensionArray(array)
