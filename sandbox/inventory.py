"""Deterministic vehicles per dealer: HomeNet feed rows (with a few bad ones), the Dealer.com
listing (a few vehicles missing, extra or priced differently), and what detail pages show.

Vehicle `i` of a dealer is a function of (seed, dealer, i). Its VIN carries a correct check digit
and encodes `i` in the serial number, so a detail page can find its vehicle from the VIN alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sandbox.data import ascii_digits, rng, stable_int

VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# Model year → VIN position 10 (I, O, Q, U, Z and 0 are never used).
YEAR_CODES = dict(zip(range(2010, 2031), "ABCDEFGHJKLMNPRSTVWXY", strict=True))
SERIAL_SPACE = 1_000_000
SERIAL_STEP = 7919  # prime, so index ↔ serial is a bijection modulo SERIAL_SPACE

# (make, WMI, model, body, trims, base MSRP, doors, fuel)
CATALOG = (
    ("Ford", "1FA", "Mustang", "Coupe", ("EcoBoost", "GT", "Mach 1"), 31_000, 2, "Gasoline"),
    ("Ford", "1FT", "F-150", "Pickup", ("XL", "XLT", "Lariat", "Platinum"), 38_000, 4, "Gasoline"),
    ("Ford", "1FM", "Explorer", "SUV", ("Base", "XLT", "ST"), 37_000, 4, "Gasoline"),
    ("Toyota", "4T1", "Camry", "Sedan", ("LE", "SE", "XSE"), 27_000, 4, "Gasoline"),
    ("Toyota", "JTM", "RAV4", "SUV", ("LE", "XLE", "Hybrid XSE"), 29_000, 4, "Hybrid"),
    ("Honda", "1HG", "Accord", "Sedan", ("LX", "Sport", "Touring"), 28_000, 4, "Gasoline"),
    ("Honda", "5J6", "CR-V", "SUV", ("LX", "EX", "EX-L"), 30_000, 4, "Gasoline"),
    ("Chevrolet", "1G1", "Malibu", "Sedan", ("LS", "RS", "LT"), 25_000, 4, "Gasoline"),
    (
        "Chevrolet",
        "1GC",
        "Silverado 1500",
        "Pickup",
        ("WT", "LT", "High Country"),
        40_000,
        4,
        "Gasoline",
    ),
    ("Nissan", "1N4", "Altima", "Sedan", ("S", "SV", "SR"), 26_000, 4, "Gasoline"),
    ("Hyundai", "KMH", "Elantra", "Sedan", ("SE", "SEL", "Limited"), 22_000, 4, "Gasoline"),
    ("Kia", "KNA", "Sportage", "SUV", ("LX", "EX", "X-Line"), 28_000, 4, "Gasoline"),
    ("Subaru", "JF1", "Outback", "Wagon", ("Base", "Premium", "Onyx"), 30_000, 4, "Gasoline"),
    ("BMW", "WBA", "330i", "Sedan", ("Base", "xDrive"), 45_000, 4, "Gasoline"),
    (
        "Tesla",
        "5YJ",
        "Model 3",
        "Sedan",
        ("RWD", "Long Range", "Performance"),
        40_000,
        4,
        "Electric",
    ),
    ("Jeep", "1C4", "Wrangler", "SUV", ("Sport", "Sahara", "Rubicon"), 34_000, 4, "Gasoline"),
)
COLORS = ("Black", "White", "Silver", "Gray", "Red", "Blue", "Green", "Magnetic Metallic")
INTERIORS = ("Black", "Gray", "Beige", "Brown")
OPTIONS = (
    "Bluetooth",
    "Backup Camera",
    "Heated Seats",
    "Navigation System",
    "Sunroof",
    "Apple CarPlay",
    "Android Auto",
    "Blind Spot Monitor",
    "Lane Keep Assist",
    "Adaptive Cruise Control",
    "Leather Seats",
    "Remote Start",
    "Third Row Seating",
    "Tow Package",
    "Keyless Entry",
    "Premium Audio",
)
BAD_KINDS = ("check_digit", "forbidden_letter", "price", "year", "missing_vin")
HOMENET_COLUMNS = (
    "DealerId",
    "DealerName",
    "DealerAddress",
    "DealerCity",
    "DealerState",
    "DealerZip",
    "Type",
    "Stock",
    "VIN",
    "Year",
    "Make",
    "Model",
    "Body",
    "Trim",
    "ModelNumber",
    "Doors",
    "ExteriorColor",
    "InteriorColor",
    "EngineCylinders",
    "EngineDisplacement",
    "Transmission",
    "Miles",
    "SellingPrice",
    "MSRP",
    "BookValue",
    "Invoice",
    "Certified",
    "DateInStock",
    "Description",
    "Options",
    "ImageList",
    "Drivetrain",
    "Fuel_Type",
    "CityMPG",
    "HighwayMPG",
    "Internet_Price",
)


def check_digit(vin: str) -> str:
    """Position 9 of a VIN: the weighted sum of the others' values, mod 11 (10 → X)."""
    total = sum(VIN_VALUES[c] * w for c, w in zip(vin, VIN_WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


def make_vin(wmi: str, vds: str, year: int, plant: str, serial: int) -> str:
    partial = f"{wmi}{vds}0{YEAR_CODES[year]}{plant}{serial:06d}"
    return partial[:8] + check_digit(partial) + partial[9:]


def _store_offset(seed: int, dealer: str) -> int:
    return stable_int(seed, dealer, "serial") % SERIAL_SPACE


def vehicle(seed: int, dealer: str, index: int, today: date) -> dict[str, Any]:
    """Vehicle `index` of `dealer`, as the dealer's books have it (always valid)."""
    r = rng(seed, dealer, "vehicle", index)
    make, wmi, model, body, trims, base, doors, fuel = r.choice(CATALOG)
    year = r.choices(range(today.year - 8, today.year + 2), weights=(1,) * 8 + (6, 4))[0]
    year = min(max(year, 2010), 2030)
    is_new = year >= today.year
    serial = (index * SERIAL_STEP + _store_offset(seed, dealer)) % SERIAL_SPACE
    vds = "".join(r.choice(VIN_CHARS) for _ in range(5))
    vin = make_vin(wmi, vds, year, r.choice(VIN_CHARS[:-10]), serial)
    trim = r.choice(trims)
    msrp = base + 1_000 * trims.index(trim) * 3 + r.randint(0, 40) * 100
    age = max(0, today.year - year)
    price = msrp - r.randint(5, 30) * 100 if is_new else int(msrp * (0.88**age)) // 100 * 100
    miles = r.randint(3, 60) if is_new else r.randint(6_000, 15_000) * age + r.randint(0, 999)
    options = sorted(r.sample(OPTIONS, r.randint(3, 8)))
    stock = f"{'N' if is_new else 'U'}{stable_int(dealer, index) % 90000 + 10000}"
    return {
        "index": index,
        "Type": "New" if is_new else "Used",
        "Stock": stock,
        "VIN": vin,
        "Year": year,
        "Make": make,
        "Model": model,
        "Body": body,
        "Trim": trim,
        "ModelNumber": f"{model[:2].upper()}{r.randint(10, 99)}",
        "Doors": doors,
        "ExteriorColor": r.choice(COLORS),
        "InteriorColor": r.choice(INTERIORS),
        "EngineCylinders": 0 if fuel == "Electric" else r.choice((4, 4, 6, 8)),
        "EngineDisplacement": ""
        if fuel == "Electric"
        else f"{r.choice((1.5, 2.0, 2.5, 3.5, 5.0))}L",
        "Transmission": "Automatic" if r.random() < 0.9 else "Manual",
        "Miles": miles,
        "SellingPrice": price,
        "MSRP": msrp,
        "BookValue": int(price * 0.92),
        "Invoice": int(msrp * 0.94),
        "Certified": "Yes" if not is_new and r.random() < 0.3 else "No",
        "DateInStock": (today - timedelta(days=r.randint(1, 120))).isoformat(),
        "Description": f'{year} {make} {model} {trim}, "{r.choice(COLORS)}" accents, one owner.',
        "Options": options,
        "Images": [f"https://images.example.com/{dealer}/{vin}/{n}.jpg" for n in range(1, 4)],
        "Drivetrain": r.choice(("FWD", "AWD", "RWD", "4WD")),
        "Fuel_Type": fuel,
        "CityMPG": 0 if fuel == "Electric" else r.randint(15, 35),
        "HighwayMPG": 0 if fuel == "Electric" else r.randint(22, 42),
    }


def bad_kind(index: int) -> str | None:
    """Which defect HomeNet's row `index` has: rows 3, 13, 23, … cycle through BAD_KINDS."""
    return BAD_KINDS[(index // 10) % len(BAD_KINDS)] if index % 10 == 3 else None


def homenet_row(seed: int, dealer: str, index: int, today: date) -> dict[str, Any]:
    """The feed's row for vehicle `index`, with its defect (if any) written in."""
    v = vehicle(seed, dealer, index, today)
    row: dict[str, Any] = {
        "DealerId": dealer,
        "DealerName": f"{dealer.replace('-', ' ').title()} Motors",
        "DealerAddress": f"{100 + stable_int(dealer) % 9000} Auto Mall Dr",
        "DealerCity": "Springfield",
        "DealerState": "IL",
        "DealerZip": "62701",
        **{k: v[k] for k in HOMENET_COLUMNS if k in v},
        "Options": ",".join(v["Options"]),
        "ImageList": ",".join(v["Images"]),
        "Internet_Price": v["SellingPrice"],
    }
    kind = bad_kind(index)
    vin = v["VIN"]
    if kind == "check_digit":
        wrong = "X" if vin[8] != "X" else "0"
        row["VIN"] = vin[:8] + (str((int(vin[8]) + 1) % 10) if vin[8].isdigit() else wrong)
        row["VIN"] += vin[9:]
    elif kind == "forbidden_letter":
        row["VIN"] = vin[:4] + "O" + vin[5:]
    elif kind == "price":
        row["SellingPrice"] = row["Internet_Price"] = "call"
    elif kind == "year":
        row["Year"] = 1850
    elif kind == "missing_vin":
        row["VIN"] = ""
    return row


@dataclass(frozen=True)
class Listing:
    """What Dealer.com shows for a dealer, relative to HomeNet's good rows."""

    vehicles: list[dict[str, Any]]  # in listing order, each with "finalPrice" (int)
    missing: list[str]  # good HomeNet VINs Dealer.com does not list
    extra: list[str]  # VINs Dealer.com lists that HomeNet does not have
    price_mismatch: list[str]  # VINs whose finalPrice differs from HomeNet's SellingPrice


def extra_count(total: int) -> int:
    return max(1, total // 25) if total else 0


def dealercom_listing(seed: int, dealer: str, total: int, today: date) -> Listing:
    vehicles, missing, mismatch = [], [], []
    for i in range(total):
        if bad_kind(i):
            continue
        v = vehicle(seed, dealer, i, today)
        if i % 17 == 5:
            missing.append(v["VIN"])
            continue
        v["finalPrice"] = v["SellingPrice"]
        if i % 13 == 8:
            v["finalPrice"] += 500 * (1 + i % 3)
            mismatch.append(v["VIN"])
        vehicles.append(v)
    extra = []
    for k in range(extra_count(total)):
        v = vehicle(seed, dealer, total + k, today)
        v["finalPrice"] = v["SellingPrice"]
        vehicles.append(v)
        extra.append(v["VIN"])
    return Listing(vehicles, missing, extra, mismatch)


def find_vehicle(seed: int, dealer: str, vin: str, total: int, today: date) -> dict | None:
    """The vehicle a detail page shows for `vin`: a good HomeNet vehicle or a Dealer.com extra,
    with the website's price ("finalPrice"); None for anything else."""
    serial = vin[-6:]
    if len(vin) != 17 or not ascii_digits(serial):
        return None
    index = ((int(serial) - _store_offset(seed, dealer)) * pow(SERIAL_STEP, -1, SERIAL_SPACE)) % (
        SERIAL_SPACE
    )
    if index >= total + extra_count(total) or (index < total and bad_kind(index)):
        return None
    v = vehicle(seed, dealer, index, today)
    if v["VIN"] != vin:
        return None
    v["finalPrice"] = v["SellingPrice"] + (500 * (1 + index % 3) if index % 13 == 8 else 0)
    return v


def dollars(amount: int) -> str:
    return f"${amount:,}"
