"""North American phone numbers to E.164, a whole column at a time.

The rule (NANP): optional `+1`/`1` country code, then exactly ten digits NPA-NXX-XXXX, where the
area code (NPA) and the exchange (NXX) start with 2-9 and are not N11 (211, 311, … 911). Formatting
(spaces, dashes, dots, parentheses) is ignored.

CRMs keep notes after a number ("213-555-0142 x12", "(213) 555-0142 ext. 4", "213.555.0142
(cell)", "213-555-0142 #204"): the number ends at the first letter, non-ASCII character, '#',
',' or ';'. When the part before is a valid number, the row is valid and the rest (from after the
number's last digit) is its `annotation`, kept aside. Otherwise a row with letters or non-ASCII is
rejected as "contains letters" (vanity numbers and full-width digits are not guessed at). A number
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
_HASH, _COMMA, _SEMICOLON = ord("#"), ord(","), ord(";")


def normalise(raw: Iterable[str | None] | pd.Series) -> pd.DataFrame:
    """One row per input, same order (and index, for a Series): `digits` (the 10-digit national
    number), `e164`, `valid`, `invalid_reason` (categorical), `annotation` (the note after a
    valid number, else null). Invalid rows have null numbers."""
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
    has_letters = _per_row(is_letter, offsets) > 0
    # The number is what comes before the first note mark; its digits are the number's digits.
    is_mark = is_letter | (data == _HASH) | (data == _COMMA) | (data == _SEMICOLON)
    has_note = _per_row(is_mark, offsets) > 0
    if has_note.any():  # few rows have notes: the bytes after a mark stop counting as digits
        running = np.cumsum(is_mark, dtype=np.int32)
        at_row_start = np.concatenate(([0], running))[offsets[:-1]]
        marks_before = running - is_mark - np.repeat(at_row_start, lengths)
        is_digit &= marks_before == 0
    n_digits = _per_row(is_digit, offsets)

    digits = data[is_digit]
    starts = np.concatenate(([0], np.cumsum(n_digits)[:-1]))
    first_digit = _at(digits, starts, n_digits > 0)
    first_char = _at(data, offsets[:-1], lengths > 0)
    with_country = (n_digits == 11) & (first_digit == _ONE)
    national = starts + with_country
    national_len = n_digits - with_country

    def digit(k: int) -> np.ndarray:
        return _at(digits, national + k, national_len > k)

    number_fails = [
        n_digits == 0,
        (first_char == _PLUS) & (first_digit != _ONE),
        national_len < 10,
        national_len > 10,
        digit(0) <= _ONE,
        (digit(1) == _ONE) & (digit(2) == _ONE),
        digit(3) <= _ONE,
        (digit(4) == _ONE) & (digit(5) == _ONE),
    ]
    # Category code per row: -1 (valid) or the index of the first failing check; letters only
    # fail a row whose number (before its note) fails.
    code = np.select(number_fails, list(range(1, len(REASONS))), default=-1)
    code = np.where(has_letters & (code >= 0), 0, code)
    valid = code < 0

    national_digits = digits[national[valid, None] + np.arange(10)]
    prefix = np.broadcast_to(np.array([_PLUS, _ONE], dtype=np.uint8), (len(national_digits), 2))
    return pd.DataFrame(
        {
            "digits": _strings(national_digits, valid),
            "e164": _strings(np.hstack([prefix, national_digits]), valid),
            "valid": valid,
            "invalid_reason": pd.Categorical.from_codes(code, categories=list(REASONS)),
            "annotation": _annotations(text, valid & has_note),
        },
        index=index,
    )


def _annotations(text: pa.StringArray, noted: np.ndarray) -> pd.arrays.ArrowExtensionArray:
    """The note after each noted valid number (few rows: plain Python on those alone)."""
    if not noted.any():
        return pd.arrays.ArrowExtensionArray(pa.nulls(len(noted), pa.string()))
    notes: list[str | None] = [None] * len(noted)
    for i in np.flatnonzero(noted):
        raw = text[int(i)].as_py()
        mark = next(k for k, c in enumerate(raw) if _is_mark(c))
        last_digit = max(k for k, c in enumerate(raw[:mark]) if "0" <= c <= "9")
        notes[i] = raw[last_digit + 1 :].strip(" ,;-") or None
    return pd.arrays.ArrowExtensionArray(pa.array(notes, type=pa.string()))


def _is_mark(c: str) -> bool:
    return not c.isascii() or c.isalpha() or c in "#,;"


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
