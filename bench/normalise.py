"""Phone numbers per second: multistore.phones (vectorised) against a per-number loop with the
`phonenumbers` library (parse + is_valid + format E.164), on the same numbers in the same run.

    python bench/normalise.py [--numbers 1000000] [--loop-sample 50000]

The loop runs on a sample (it is ~100× slower); both rates are numbers per second. Target ≥ 50×.
"""

from __future__ import annotations

import argparse
import random
import time

import pandas as pd
import phonenumbers

from multistore.phones import normalise

FORMATS = ("({a}) {b}-{c}", "{a}-{b}-{c}", "+1 {a} {b} {c}", "1{a}{b}{c}", "{a}.{b}.{c}")


def sample_numbers(count: int, seed: int = 7) -> list[str]:
    """Mostly valid numbers in assorted formats, ~10% broken in the usual ways."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        a = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
        b = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
        c = f"{rng.randint(0, 9999):04d}"
        number = rng.choice(FORMATS).format(a=a, b=b, c=c)
        if rng.random() < 0.1:
            number = rng.choice([number[:-2], number + "7", "911" + number[3:], "n/a"])
        out.append(number)
    return out


def loop_phonenumbers(numbers: list[str]) -> list[str | None]:
    out: list[str | None] = []
    for raw in numbers:
        try:
            parsed = phonenumbers.parse(raw, "US")
        except phonenumbers.NumberParseException:
            out.append(None)
            continue
        ok = phonenumbers.is_valid_number(parsed)
        out.append(
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) if ok else None
        )
    return out


def rate(fn, data, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(data)
        best = min(best, time.perf_counter() - start)
    return len(data) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--loop-sample", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    numbers = sample_numbers(args.numbers)
    column = pd.Series(numbers)
    vector_rate = rate(normalise, column, args.repeat)
    loop_rate = rate(loop_phonenumbers, numbers[: args.loop_sample], args.repeat)

    sample = numbers[: args.loop_sample]
    ours = [None if pd.isna(x) else x for x in normalise(sample)["e164"]]
    theirs = loop_phonenumbers(sample)
    accepted = [(a, b) for a, b in zip(ours, theirs, strict=True) if b is not None]
    agree = sum(a == b for a, b in accepted)

    print(f"vectorised (multistore.phones): {vector_rate:>12,.0f} numbers/s ({args.numbers:,})")
    print(f"loop (phonenumbers):            {loop_rate:>12,.0f} numbers/s ({args.loop_sample:,})")
    print(f"ratio vectorised / loop:        {vector_rate / loop_rate:>12.1f}x  (target >= 50x)")
    print(
        f"numbers phonenumbers accepts that get the same E.164 here: {agree / len(accepted):.1%}"
        " (it also rejects unassigned area codes, which the NANP rule alone cannot)"
    )


if __name__ == "__main__":
    main()
