"""The PII-free half of the redaction corpus: support-chat sentences dense with numbers, dates,
prices, order and tracking ids, versions, hashes and random-looking ids that are not secrets
(payment object ids, ULIDs, IMEIs). Used by the false-positive goal and ``bench/redaction.py``."""

from __future__ import annotations

import random
import string
import uuid

from stdnum import luhn

from tests.feedback.redaction_corpus import Case, _random

_MONTHS = [
    "Jan",
    "Feb",
    "March",
    "April",
    "May",
    "June",
    "July",
    "Aug",
    "Sept",
    "October",
    "November",
    "December",
]
_PRODUCTS = [
    "the blender",
    "my Pro plan",
    "the router",
    "the Kindle",
    "order",
    "the invoice",
    "the app",
    "my subscription",
    "the headphones",
    "the desk",
]


def _imei(rng: random.Random) -> str:
    body = "35" + "".join(rng.choice(string.digits) for _ in range(12))
    return body + luhn.calc_check_digit(body)


def _clean_parts(rng: random.Random) -> dict[str, str]:
    """One draw of every kind of number-heavy, PII-free fragment a support chat holds."""
    r = rng.randint
    hexdigits = "0123456789abcdef"
    return {
        "order": rng.choice(
            [
                f"#{r(1000, 99999)}",
                f"{r(100, 999)}-{r(10**6, 10**7 - 1)}-{r(10**6, 10**7 - 1)}",
                f"ORD-{r(2019, 2026)}-{r(10000, 99999)}",
                f"#{r(10**8, 10**9 - 1)}",
                f"W{r(10**8, 10**9 - 1)}",
                f"{r(10**10, 10**11 - 1)}",
                f"SO{r(100000, 999999)}",
                f"INV-{r(2020, 2026)}-{r(1, 999999):06d}",
            ]
        ),
        "tracking": rng.choice(
            [
                "1Z"
                + _random(rng, 6, string.ascii_uppercase + string.digits)
                + str(r(10**9, 10**10 - 1)),
                f"{r(10**11, 10**12 - 1)}",  # FedEx, 12 digits
                "9400 " + " ".join(str(r(1000, 9999)) for _ in range(4)) + f" {r(10, 99)}",  # USPS
                f"94001{r(10**16, 10**17 - 1)}",
                f"JD{r(10**15, 10**16 - 1)}",
                f"LX{r(10**8, 10**9 - 1)}CN",
            ]
        ),
        "date": rng.choice(
            [
                f"{r(1, 12):02d}/{r(1, 28):02d}/{r(2019, 2026)}",
                f"{r(2019, 2026)}-{r(1, 12):02d}-{r(1, 28):02d}",
                f"{r(1, 28)} {rng.choice(_MONTHS)} {r(2019, 2026)}",
                f"{rng.choice(_MONTHS)} {r(1, 28)}, {r(2019, 2026)}",
                f"{r(1, 28)}.{r(1, 12)}.{r(2019, 2026)}",
                f"{r(2019, 2026)}-{r(1, 12):02d}-{r(1, 28):02d}"
                f"T{r(0, 23):02d}:{r(0, 59):02d}:{r(0, 59):02d}Z",
            ]
        ),
        "time": rng.choice(
            [
                f"{r(0, 23):02d}:{r(0, 59):02d}",
                f"{r(1, 12)}:{r(0, 59):02d} pm",
                f"{r(0, 23):02d}:{r(0, 59):02d}:{r(0, 59):02d}",
                f"{r(1, 12)}am",
            ]
        ),
        "price": rng.choice(
            [
                f"${r(1, 2999)}.{r(0, 99):02d}",
                f"€{r(1, 999)},{r(0, 99):02d}",
                f"{r(1, 9)}.{r(100, 999)},{r(0, 99):02d} EUR",
                f"£{r(1, 500)}",
                f"${r(1, 99)},{r(100, 999)}.00",
                f"USD {r(10, 9999)}",
            ]
        ),
        "version": rng.choice(
            [
                f"v{r(0, 9)}.{r(0, 30)}.{r(0, 99)}",
                f"version {r(1, 20)}.{r(0, 9)}.{r(0, 9)}.{r(0, 99)}",
                f"build {r(1, 9)}.{r(0, 9)}.{r(0, 9)}.{r(100, 9999)}",
                f"Chrome {r(100, 131)}.0.{r(1000, 6999)}.{r(10, 200)}",
                f"iOS {r(14, 18)}.{r(0, 6)}.{r(0, 3)}",
                f"10.0.{r(17000, 26100)}.{r(100, 4000)}",
                f"release {r(1, 5)}.{r(0, 20)}.{r(0, 9)}.{r(0, 9)}",
                f"{r(1, 4)}.{r(0, 20)}.{r(0, 30)}-rc.{r(1, 5)}",
            ]
        ),
        "hash": rng.choice(
            [
                "".join(rng.choice(hexdigits) for _ in range(40)),
                "".join(rng.choice(hexdigits) for _ in range(7)),
                str(uuid.UUID(int=rng.getrandbits(128))),
                "sha256:" + "".join(rng.choice(hexdigits) for _ in range(64)),
                "".join(rng.choice(hexdigits) for _ in range(32)),
                f"0x{r(0, 2**32 - 1):08X}",
            ]
        ),
        "ident": rng.choice(
            [
                f"SKU {r(1000, 9999)}-{r(10, 99)}-{r(100, 999)}",
                f"ticket {r(100000, 999999)}",
                f"case {r(10**7, 10**8 - 1):08d}",
                f"ISBN 978-{r(0, 1)}-{r(100, 999)}-{r(10000, 99999)}-{r(0, 9)}",
                f"model SM-G{r(900, 999)}B",
                f"error {rng.choice([400, 403, 404, 500, 502, 504])}",
                f"port {r(1024, 65535)}",
                f"{r(640, 3840)}x{r(480, 2160)}",
                f"ZIP {r(10000, 99999)}-{r(1000, 9999)}",
                f"JIRA-{r(100, 9999)}",
                f"report_{r(2019, 2026)}_Q{r(1, 4)}_final.xlsx",
                f"https://help.example.com/articles/{r(10**11, 10**12 - 1)}"
                "-How-To-Reset-Your-Password",
                f"https://shop.example.com/orders/{r(1000, 99999)}"
                f"?ref=email&utm_campaign=spring{r(20, 26)}",
                f"getUserById{r(2, 9)}Async",
                f"ResourceNotFoundException{r(100, 999)}",
                f"{r(1, 99)} units",
                f"{r(1, 99)}%",
                f"{r(1, 999)} GB",
                f"account ending in {r(1000, 9999)}",
                f"table 4, seats {r(1, 9)}-{r(10, 20)}",
                f"flight LH{r(100, 999)}",
                f"room {r(100, 999)}",
                f"unix time {r(1_600_000_000, 1_800_000_000)}",
                f"{r(1, 9)},{r(100, 999)},{r(100, 999)} rows",
                f"coordinates {r(-89, 89)}.{r(1000, 9999)}, {r(-179, 179)}.{r(1000, 9999)}",
                f"serial {_random(rng, 4, string.ascii_uppercase)}{r(10**7, 10**8 - 1)}",
                f"license plate {_random(rng, 3, string.ascii_uppercase)}-{r(100, 9999)}",
                f"payment pi_{_random(rng, 24)}",
                f"charge ch_{_random(rng, 24)} / customer cus_{_random(rng, 14)}",
                f"IMEI {_imei(rng)}",
                f"Zoom meeting ID {r(810, 899)} {r(1000, 9999)} {r(1000, 9999)}",
                f"timestamp {r(1_600_000_000_000, 1_800_000_000_000)} ms",
                "object id " + "".join(rng.choice(hexdigits) for _ in range(24)),
                f"ULID 01{_random(rng, 24, '0123456789ABCDEFGHJKMNPQRSTVWXYZ')}",
                f"image ghcr.io/acme/api:{r(1, 3)}.{r(0, 20)}.{r(0, 9)}-alpine3.{r(15, 20)}",
                f"branch feature/JIRA-{r(100, 9999)}-fix-login-redirect",
                f"https://youtu.be/{_random(rng, 11)}?t={r(1, 600)}",
                f"https://drive.google.com/file/d/1{_random(rng, 32)}/view",
                f"booking ref {_random(rng, 6, string.ascii_uppercase + string.digits)}",
                f"IP-{r(1000, 9999)} feature flag, config key max_retries={r(1, 9)}",
            ]
        ),
    }


CLEAN_TEMPLATES = [
    "My order {order} arrived on {date} but {product} was damaged.",
    "Tracking {tracking} hasn't moved since {date} {time}.",
    "I was charged {price} on {date} for {product}, order {order}.",
    "The app crashes on {version} when I open {ident}.",
    "After the update to {version} I get {ident} at {time}.",
    "Commit {hash} broke the export; it worked on {date}.",
    "Hi, can you tell me when {order} will ship? Paid {price}.",
    "Request id {hash}, {ident}, happened at {time} on {date}.",
    "I need an invoice for {order} ({price}) dated {date}.",
    "Is {product} compatible with {version}? I have {ident}.",
    "We've been customers since {date}; {ident} and {ident2} are the issue.",
    "The delivery window says {time} to {time2} but tracking {tracking} says otherwise.",
    "Between {date} and {date2} we processed {ident} with {version}.",
    "Quote: {price} for {ident}, valid until {date}. Ref {order}.",
    "thanks!! order {order} / tracking {tracking} / total {price}",
    "{ident} again, trace {hash}, {version}, {time}",
]


def clean_cases(seed: int = 41, n: int = 2000) -> list[Case]:
    """``n`` sentences with no PII and at least three number-heavy fragments each."""
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        parts = _clean_parts(rng)
        second = _clean_parts(rng)
        text = rng.choice(CLEAN_TEMPLATES).format(
            product=rng.choice(_PRODUCTS),
            ident2=second["ident"],
            time2=second["time"],
            date2=second["date"],
            **parts,
        )
        cases.append(Case(text))
    return cases
