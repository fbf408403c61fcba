"""A seeded corpus for redaction: PII of every type inside support-chat sentences (the PII-free
sentences are in ``redaction_clean_corpus``).

Used by ``tests/feedback/test_redaction.py`` (recall goal per type) and
``bench/redaction.py`` (the same figures beside throughput). Every PII string is made valid for
its own checker (Luhn, IBAN mod 97, SSN ranges, libphonenumber) so that recall measures the
redactor, not the generator; the sensitive part a case must hide is ``secret``.
"""

from __future__ import annotations

import ipaddress
import random
import string
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.us import ssn as stdnum_ssn

TYPES = ("email", "phone", "card", "iban", "ip", "ssn", "secret", "url_credentials")

TEMPLATES = [
    "Hi, my {label} is {pii}",
    "hi there!! {label}: {pii} - can you check why I'm locked out?",
    "{pii} is the {label} I used when I signed up last week.",
    "Please update the {label} on file to {pii}, thanks.",
    "I already sent it twice ({pii}) but nobody answered",
    'The agent asked for my {label} so here it is: "{pii}".',
    "ok so {pii}\nthat's the one",
    "Can you confirm you have {pii} as my {label}?",
    "My wife says the {label} should be {pii}; I'm not sure.",
    "Order still not here. {label} {pii}. Order #48213, placed on 03/12/2024.",
    "Why was I charged $49.99 twice? {label} = {pii}",
    "- {label}: {pii}\n- plan: Pro (annual)\n- since: 2021",
    "Sorry for the typo, it's {pii} not the old one.",
    "Your colleague Maria wrote down {pii} but I think it was wrong.",
    "{pii}",
    "I can't log in since the 4.2 update; {label} {pii}, browser Chrome 120.",
    "Refund to {pii} please (ticket 88213).",
    "Hello,\n\nI tried again at 10:45 this morning with {pii} and it failed.\n\nBest, Tom",
]

LABELS = {
    "email": ["email", "e-mail", "address", "login", "contact"],
    "phone": ["phone", "number", "mobile", "cell", "phone number", "callback number"],
    "card": ["card", "credit card", "card number", "Visa", "payment card"],
    "iban": ["IBAN", "bank account", "account", "iban"],
    "ip": ["IP", "ip address", "server IP", "address"],
    "ssn": ["SSN", "social security number", "SSN#", "ssn"],
    "secret": ["API key", "key", "token", "secret", "credential"],
    "url_credentials": ["connection string", "URL", "webhook", "feed URL", "repo URL"],
}

FIRST = ["john", "maria", "wei", "fatima", "olu", "anna", "jose", "li", "sven", "priya", "sam"]
LAST = ["smith", "garcia", "chen", "khan", "okafor", "novak", "silva", "wang", "berg", "patel"]
DOMAINS = [
    "gmail.com",
    "example.co.uk",
    "mail.acme-corp.io",
    "outlook.de",
    "uni-heidelberg.de",
    "yahoo.fr",
    "company.com.br",
    "proton.me",
    "startup.ai",
    "post.example.org",
]


@dataclass(frozen=True)
class Case:
    """A sentence and, when it holds PII, its type and the part that must not survive."""

    text: str
    pii_type: str | None = None
    secret: str = ""


def _email(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice(
        [
            f"{first}.{last}",
            f"{first}_{last}{rng.randint(1, 99)}",
            f"{first[0]}{last}+{rng.choice(['shop', 'news', 'x'])}",
            f"{first}-{last}",
            f"{first}{rng.randint(1970, 2005)}",
        ]
    )
    address = f"{local}@{rng.choice(DOMAINS)}"
    if rng.random() < 0.2:
        address = address.capitalize()
    wrapped = rng.choice([address, address, address, f"<{address}>", f"mailto:{address}"])
    return wrapped, address


_PHONE_REGIONS = [
    "US",
    "US",
    "US",
    "GB",
    "DE",
    "FR",
    "IN",
    "BR",
    "AU",
    "JP",
    "CA",
    "ES",
    "NL",
    "MX",
]


def _phone(rng: random.Random) -> tuple[str, str]:
    region = rng.choice(_PHONE_REGIONS)
    kind = rng.choice(
        [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
    )
    example = phonenumbers.example_number_for_type(region, kind)
    national = str(example.national_number)
    while True:
        digits = national[:-4] + "".join(rng.choice(string.digits) for _ in range(4))
        number = phonenumbers.parse("+" + str(example.country_code) + digits)
        if phonenumbers.is_valid_number(number):
            break
    fmt = phonenumbers.PhoneNumberFormat
    if region == "US":  # the default region: national formats too
        national_fmt = phonenumbers.format_number(number, fmt.NATIONAL)
        digits10 = str(number.national_number)
        text = rng.choice(
            [
                national_fmt,
                f"{digits10[:3]}-{digits10[3:6]}-{digits10[6:]}",
                f"{digits10[:3]}.{digits10[3:6]}.{digits10[6:]}",
                f"{digits10[:3]} {digits10[3:6]} {digits10[6:]}",
                phonenumbers.format_number(number, fmt.E164),
                phonenumbers.format_number(number, fmt.INTERNATIONAL),
                "1-" + f"{digits10[:3]}-{digits10[3:6]}-{digits10[6:]}",
                f"+1 ({digits10[:3]}) {digits10[3:6]}-{digits10[6:]}",
                "tel:" + phonenumbers.format_number(number, fmt.E164),
            ]
        )
    else:
        international = phonenumbers.format_number(number, fmt.INTERNATIONAL)
        text = rng.choice(
            [
                international,
                international.replace(" ", "-").replace("-", " ", 1),
                phonenumbers.format_number(number, fmt.E164),
                international.replace("-", " "),
            ]
        )
    return text, text


_CARD_PREFIXES = [
    ("4", 16),
    ("4", 16),
    ("4", 13),
    ("51", 16),
    ("55", 16),
    ("2221", 16),
    ("2720", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
    ("65", 16),
    ("3530", 16),
    ("36", 14),
    ("62", 16),
    ("62", 19),
]


def _card(rng: random.Random) -> tuple[str, str]:
    prefix, length = rng.choice(_CARD_PREFIXES)
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    number = body + luhn.calc_check_digit(body)
    style = rng.choice(["compact", "space", "dash"])
    if style == "compact":
        return number, number
    sep = " " if style == "space" else "-"
    groups = (
        [number[:4], number[4:10], number[10:]]
        if length == 15
        else [number[i : i + 4] for i in range(0, length, 4)]
    )
    text = sep.join(groups)
    return text, text


_IBAN_SPECS = {
    "DE": "n18",
    "GB": "a4n14",
    "FR": "n10c11n2",
    "NL": "a4n10",
    "ES": "n20",
    "IT": "a1n10c12",
    "BE": "n12",
    "CH": "n5c12",
    "AT": "n16",
    "PL": "n24",
    "IE": "a4n14",
    "SE": "n20",
    "PT": "n21",
    "DK": "n14",
    "NO": "n11",
}


def _bban(rng: random.Random, spec: str) -> str:
    out = []
    i = 0
    while i < len(spec):
        kind = spec[i]
        j = i + 1
        while j < len(spec) and spec[j].isdigit():
            j += 1
        count = int(spec[i + 1 : j])
        alphabet = {
            "n": string.digits,
            "a": string.ascii_uppercase,
            "c": string.digits + string.ascii_uppercase,
        }[kind]
        out.append("".join(rng.choice(alphabet) for _ in range(count)))
        i = j
    return "".join(out)


def _iban(rng: random.Random) -> tuple[str, str]:
    country = rng.choice(sorted(_IBAN_SPECS))
    while True:
        bban = _bban(rng, _IBAN_SPECS[country])
        number = country + stdnum_iban.calc_check_digits(country + "00" + bban) + bban
        if stdnum_iban.is_valid(number):
            break
    style = rng.choice(["compact", "grouped", "lower-grouped", "lower"])
    grouped = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    text = {
        "compact": number,
        "grouped": grouped,
        "lower-grouped": grouped.lower(),
        "lower": number.lower(),
    }[style]
    return text, text


def _ip(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        text = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        if rng.random() < 0.2:
            return f"{text}:{rng.randint(1, 65535)}", text
    else:
        groups = [rng.randint(0, 0xFFFF) for _ in range(8)]
        start = rng.randint(1, 5)
        for k in range(start, start + rng.randint(0, 3)):
            groups[k] = 0
        address = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))
        text = rng.choice(
            [
                address.compressed,
                address.compressed,
                address.exploded,
                address.compressed.upper(),
                f"fe80::{groups[6]:x}:{groups[7]:x}",
            ]
        )
        if rng.random() < 0.15:
            return f"[{text}]:{rng.randint(1, 65535)}", text
    return text, text


def _ssn(rng: random.Random) -> tuple[str, str]:
    while True:
        area, group, serial = rng.randint(1, 899), rng.randint(1, 99), rng.randint(1, 9999)
        digits = f"{area:03d}{group:02d}{serial:04d}"
        if stdnum_ssn.is_valid(digits):
            break
    style = rng.choice(["dash", "dash", "space", "bare"])
    if style == "bare":
        return f"SSN {digits}", digits
    sep = "-" if style == "dash" else " "
    text = sep.join([digits[:3], digits[3:5], digits[5:]])
    return text, text


def _random(
    rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits
) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _secret(rng: random.Random) -> tuple[str, str]:
    up = string.ascii_uppercase + string.digits
    kind = rng.randrange(12)
    if kind == 0:
        key = "AKIA" + _random(rng, 16, up)
    elif kind == 1:
        key = "ghp_" + _random(rng, 36)
    elif kind == 2:
        key = f"xoxb-{rng.randint(10**10, 10**11)}-{rng.randint(10**10, 10**11)}-{_random(rng, 24)}"
    elif kind == 3:
        key = "sk_live_" + _random(rng, rng.randint(24, 40))
    elif kind == 4:
        key = "AIza" + _random(rng, 35, string.ascii_letters + string.digits + "_-")
    elif kind == 5:
        token = _random(rng, rng.randint(24, 48), string.ascii_letters + string.digits + "-_.")
        return f"Authorization: Bearer {token}", token
    elif kind == 6:
        key = "eyJhbGciOiJIUzI1NiJ9.eyJ" + _random(rng, 40) + "." + _random(rng, 43)
    elif kind == 9:
        value = _random(rng, 40, string.ascii_letters + string.digits + "/+")
        return f"AWS_SECRET_ACCESS_KEY={value}", value
    elif kind == 10:
        word = rng.choice(["Summer", "Bailey", "Purple", "Dragon", "Monkey", "Soccer"])
        value = f"{word}{rng.randint(1, 2026)}{rng.choice(['!', '#', '', '$$'])}"
        return rng.choice([f"my password is {value}", f"password: {value}", f"pwd={value}"]), value
    elif kind == 11:
        token = _random(rng, rng.randint(24, 40))
        return f"https://api.example.com/v1/export?token={token}&format=csv", token
    else:
        key = _random(rng, rng.randint(24, 48))
    return key, key


def _url_credentials(rng: random.Random) -> tuple[str, str]:
    scheme = rng.choice(
        [
            "https",
            "http",
            "ftp",
            "postgres",
            "postgresql",
            "mysql",
            "redis",
            "amqp",
            "mongodb+srv",
            "sftp",
        ]
    )
    user = rng.choice(FIRST) + rng.choice(["", "_admin", "42", ".ops"])
    password = _random(rng, rng.randint(6, 16), string.ascii_letters + string.digits + "!$*~_-")
    host = rng.choice(
        [
            "db.internal",
            "10.0.3.7",
            "ftp.example.com",
            "cluster0.ab1cd.mongodb.net",
            "shop.example.org:8443",
            "localhost:5432",
        ]
    )
    path = rng.choice(["", "/", "/orders", "/db?sslmode=require", "/feed.xml"])
    return f"{scheme}://{user}:{password}@{host}{path}", f"{user}:{password}"


GENERATORS = {
    "email": _email,
    "phone": _phone,
    "card": _card,
    "iban": _iban,
    "ip": _ip,
    "ssn": _ssn,
    "secret": _secret,
    "url_credentials": _url_credentials,
}


def pii_cases(seed: int = 14, per_type: int = 500) -> list[Case]:
    """``per_type`` sentences for every type, each holding one PII string."""
    rng = random.Random(seed)
    cases = []
    for pii_type in TYPES:
        for _ in range(per_type):
            text, secret = GENERATORS[pii_type](rng)
            sentence = rng.choice(TEMPLATES).format(label=rng.choice(LABELS[pii_type]), pii=text)
            cases.append(Case(sentence, pii_type, secret))
    return cases
