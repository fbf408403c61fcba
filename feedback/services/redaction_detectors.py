"""The detectors behind ``feedback.services.redaction``: candidate spans, then validation.

Each detector takes a text and returns ``(new_text, count)``: every span it is sure of replaced
by its placeholder. Candidate spans come from compact regular expressions whose quantifiers are
all bounded (or whose alternatives cannot overlap), so a text of length n costs O(n) steps, never
backtracking without end; validation comes from libraries: ``phonenumbers`` (Google's
libphonenumber metadata) for phones, ``python-stdnum`` for Luhn, IBAN and US SSN checks, the
standard library's ``ipaddress`` for IPv6. Secrets follow detect-secrets' approach (known key
prefixes plus Shannon entropy of base64-like tokens) with our own small patterns; see the README
library table for why detect-secrets itself is not called.

Nothing here logs, and nothing raises with the text in its message.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.us import ssn as stdnum_ssn

Detector = Callable[[str, str], tuple[str, int]]

# --- credentials in URLs: scheme://user:password@host ------------------------------------------

_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]{0,15}://)[^\s:/@?#]{1,256}:[^\s/@?#]{1,256}@",
    re.ASCII,
)


def url_credentials(text: str, _region: str) -> tuple[str, int]:
    """``https://bob:hunter2@host`` becomes ``https://[URL_CREDENTIALS]@host``."""
    if "@" not in text or "://" not in text:
        return text, 0  # both are literals of the pattern: a text without one cannot match
    return _URL_CREDENTIALS.subn(r"\g<scheme>[URL_CREDENTIALS]@", text)


# --- secrets: known key shapes, bearer tokens, high-entropy tokens -------------------------------

_KNOWN_SECRETS = re.compile(
    r"\b(?:"
    r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,255}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{22,255}"
    r"|xox[abposre]-[A-Za-z0-9-]{10,255}"  # Slack tokens
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,255}|whsec_[A-Za-z0-9]{24,255}"  # Stripe keys
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,255}"  # OpenAI / Anthropic style keys
    r"|glpat-[A-Za-z0-9_-]{20,255}"  # GitLab tokens
    r"|eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,4096}"  # JWTs
    r")(?![A-Za-z0-9_-])",
    re.ASCII,
)
# Every alternative of `_KNOWN_SECRETS` starts with one of these: a text with none skips it.
_KNOWN_PREFIXES = (
    "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA", "ghp_", "gho_", "ghu_",
    "ghs_", "ghr_", "github_pat_", "xox", "sk_", "rk_", "pk_", "whsec_", "AIza", "sk-",
    "glpat-", "eyJ",
)  # fmt: skip
_BEARER = re.compile(
    r"(?P<lead>\b(?:[Bb]earer|BEARER|[Tt]oken|TOKEN)\s{1,8})[A-Za-z0-9._~+/-]{16,4096}=*(?![\w.~+/-])",
    re.ASCII,
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----[\s\S]{1,20000}?-----END [A-Z ]{0,40}PRIVATE KEY-----",
    re.ASCII,
)
# A value given after a credential's name: ``password: hunter2``, ``api_key="…"``,
# ``AWS_SECRET_ACCESS_KEY=…``, ``my passcode is 48213``. The value must hold a digit or a symbol,
# so "the password is incorrect" stays.
_ASSIGNED = re.compile(
    r"(?P<lead>(?i:\b(?:[a-z]{1,20}_){0,3}(?:password|passwd|pwd|passcode|passphrase|secret|"
    r"api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?token|"
    r"access[_-]?token|token)s?)[\"']?\s{0,3}(?:is\s{1,3}|[:=]\s{0,3})[\"'`]?)"
    # The value is not itself a name being given one ("secret is password: x1").
    r"(?![A-Za-z_-]{1,40}\s{0,3}(?:is\s|[:=]))(?P<value>[^\s\"'`,;&]{4,256})",
    re.ASCII,
)
_ASSIGNED_HINTS = ("pass", "pwd", "secret", "key", "token")
# A base64/URL-safe token of 20+ characters, standing alone (not inside a longer word, path or
# dotted name); whether it is a secret is decided by `_looks_random`.
_TOKEN = re.compile(r"(?<![\w+/.-])[A-Za-z0-9+/_-]{20,4096}={0,2}(?![\w+/=-])", re.ASCII)
# Public object ids of payment APIs (Stripe's ``pi_``, ``ch_``, ``cus_`` …) are random but name
# a record, not a credential; a chat about a payment quotes them.
_OBJECT_ID = re.compile(
    r"(?:pi|ch|cus|in|ii|price|prod|sub|si|txn|evt|po|re|pm|seti|src|card|ba|cs|py|tr|dp|ipi)"
    r"_(?:(?:live|test)_)?[A-Za-z0-9]{8,64}"
)
_ENTROPY_BITS = 3.7  # detect-secrets' base64 limit is 4.5 on longer strings; ours is per length


def _shannon(token: str) -> float:
    counts = Counter(token)
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_random(token: str) -> bool:
    """Mixed case and digits, few long letter runs (not a slug), and high Shannon entropy.

    Pure hex (commit ids, UUIDs without dashes, hashes) and upper-case-and-digit codes
    (tracking numbers, order ids) are left alone: they are not credentials.
    """
    body = token.rstrip("=")
    if len(body) < 20 or _OBJECT_ID.fullmatch(body):
        return False
    upper = sum(c.isupper() for c in body)
    lower = sum(c.islower() for c in body)
    digits = sum(c.isdigit() for c in body)
    if upper < 2 or lower < 2 or (digits < 1 and len(body) < 24):
        return False
    # Slugs and identifiers ("How-To-Reset-Password-2024", "getUserById2Async") are made of
    # words: most letters sit in runs of 4+ lowercase letters.
    worded = sum(len(run) for run in re.findall(r"[A-Z]?[a-z]{4,}", body))
    if worded > 0.5 * len(body):
        return False
    threshold = min(_ENTROPY_BITS + 0.5 * math.log2(len(body) / 20), 4.5)
    return _shannon(body) >= threshold


def secret(text: str, _region: str) -> tuple[str, int]:
    """Private key blocks, known API key shapes, bearer tokens and high-entropy tokens."""
    # Cheap substring tests first: most texts name no key, so their patterns need not scan.
    lowered = text.lower()
    n1 = n3 = found = 0
    if "private key-----" in lowered:
        text, n1 = _PRIVATE_KEY.subn("[SECRET]", text)
    n2 = 0
    if any(prefix in text for prefix in _KNOWN_PREFIXES):
        text, n2 = _KNOWN_SECRETS.subn("[SECRET]", text)
    if "bearer" in lowered or "token" in lowered:
        text, n3 = _BEARER.subn(r"\g<lead>[SECRET]", text)

    def assigned(match: re.Match[str]) -> str:
        nonlocal found
        value = match.group("value").rstrip(".,;:?)")
        if value.startswith("[") or not re.search(r"[^A-Za-z]", value):
            return match.group()
        found += 1
        return match.group("lead") + "[SECRET]" + match.group("value")[len(value) :]

    if any(name in lowered for name in _ASSIGNED_HINTS):
        text = _ASSIGNED.sub(assigned, text)

    def entropy(match: re.Match[str]) -> str:
        nonlocal found
        if _looks_random(match.group()):
            found += 1
            return "[SECRET]"
        return match.group()

    text = _TOKEN.sub(entropy, text)
    return text, n1 + n2 + n3 + found


# --- emails ------------------------------------------------------------------------------------

# Unicode letters are allowed (``josé@exemple.fr``, internationalised domains).
_EMAIL = re.compile(
    r"(?<![\w.%+-])[^\W_][\w.%+-]{0,63}@"
    r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,8}[^\W\d_]{2,24}\b"
)


def email(text: str, _region: str) -> tuple[str, int]:
    """Addresses of the usual ``local@domain.tld`` shape (no quoted local parts)."""
    if "@" not in text:
        return text, 0
    return _EMAIL.subn("[EMAIL]", text)


# --- IBANs -------------------------------------------------------------------------------------

_TWO_DIGITS = re.compile(r"[0-9]{2}")
# Country code, check digits, then 11-30 alphanumerics, optionally in groups split by one space
# or dash. The candidate may run into the following word; `_iban_end` finds the valid prefix.
_IBAN = re.compile(r"\b[A-Za-z]{2}[0-9]{2}(?:[ -]?[A-Za-z0-9]){11,30}", re.ASCII)


def _iban_end(candidate: str) -> int:
    """Length of the longest prefix of ``candidate`` that is a valid IBAN (0 if none)."""
    positions = [i + 1 for i, c in enumerate(candidate) if c.isalnum()]
    for length in range(min(34, len(positions)), 14, -1):
        end = positions[length - 1]
        if end < len(candidate) and candidate[end].isalnum():
            continue  # a prefix must end at a group boundary or the candidate's end
        if stdnum_iban.is_valid(candidate[:end]):
            return end
    return 0


def iban(text: str, _region: str) -> tuple[str, int]:
    """IBANs in any case, compact or grouped, valid by country format and mod-97 checksum."""
    if not _TWO_DIGITS.search(text):
        return text, 0  # every candidate has its check digits
    out: list[str] = []
    last = found = 0
    for match in _IBAN.finditer(text):
        if match.start() < last:
            continue
        end = _iban_end(match.group())
        if end:
            out.append(text[last : match.start()])
            out.append("[IBAN]")
            last = match.start() + end
            found += 1
    out.append(text[last:])
    return "".join(out), found


# --- payment cards -----------------------------------------------------------------------------

_CARD = re.compile(
    r"(?<![\w+-])(?<![0-9][ -])[0-9](?:[ -]?[0-9]){12,18}(?![ -]?[0-9]|[A-Za-z])", re.ASCII
)
# Issuer prefixes and lengths of the networks a support chat meets. A Luhn-valid number outside
# them (an order or tracking number, an IMEI, which is Luhn-checked too) is not a card.
_CARD_NETWORKS = [
    (re.compile(r"4"), (13, 16, 19)),  # Visa
    (re.compile(r"5[1-5]|2(?:2[2-9][1-9]|2[3-9]|[3-6]|7[01]|720)"), (16,)),  # Mastercard
    (re.compile(r"3[47]"), (15,)),  # American Express
    (re.compile(r"6011|64[4-9]|65"), (16, 17, 18, 19)),  # Discover
    (re.compile(r"35(?:2[89]|[3-8])"), (16, 17, 18, 19)),  # JCB
    (re.compile(r"30[0-5]|36|3[89]"), (14, 15, 16, 17, 18, 19)),  # Diners Club
    (re.compile(r"62"), (16, 17, 18, 19)),  # UnionPay
    (re.compile(r"50|5[6-8]|6[37]"), (13, 14, 15, 16, 17, 18, 19)),  # Maestro
]


def _card_network(digits: str) -> bool:
    return any(p.match(digits) and len(digits) in lengths for p, lengths in _CARD_NETWORKS)


def _card_grouping(groups: list[int]) -> bool:
    """Cards are printed in fours (the last group shorter) or 4-6-5 / 4-6-4 (Amex, Diners)."""
    if groups in ([4, 6, 5], [4, 6, 4]):
        return True
    return all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4


def card(text: str, _region: str) -> tuple[str, int]:
    """13-19 digit numbers, spaced or dashed, with a card network prefix and a valid Luhn sum."""
    if not _FOUR_DIGITS.search(text):
        return text, 0  # a card, grouped in fours or 4-6-5 or not grouped, has four in a row
    found = 0

    def check(match: re.Match[str]) -> str:
        nonlocal found
        groups = [len(g) for g in re.split(r"[ -]", match.group())]
        if len(groups) > 1 and not _card_grouping(groups):
            return match.group()  # 3-7-7 is an order id, not a card
        digits = re.sub(r"[ -]", "", match.group())
        if _card_network(digits) and luhn.is_valid(digits):
            found += 1
            return "[CARD]"
        return match.group()

    return _CARD.sub(check, text), found


# --- US social security numbers ----------------------------------------------------------------

_SSN = re.compile(
    r"(?<![0-9-])(?:[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4})(?![0-9]|-[0-9])"
    r"|(?i:\b(?:ssn|social security(?: number| no\.?)?|ss#)[\s:#-]{0,6}(?:is\s{1,3})?)"
    r"[0-9]{9}(?![0-9])",
    re.ASCII,
)


_FOUR_DIGITS = re.compile(r"[0-9]{4}")


def ssn(text: str, _region: str) -> tuple[str, int]:
    """``123-45-6789`` and ``123 45 6789`` anywhere; nine bare digits only after "SSN" and kin.

    Valid means what python-stdnum checks: area not 000, 666 or 9xx, group not 00, serial not
    0000, and not one of the numbers known to be published (078-05-1120 …).
    """
    found = 0

    def check(match: re.Match[str]) -> str:
        nonlocal found
        span = match.group()
        digits = re.sub(r"[^0-9]", "", span)[-9:]
        if stdnum_ssn.is_valid(digits):
            found += 1
            return span[: len(span) - 9] + "[SSN]" if span[-9:].isdigit() else "[SSN]"
        return span

    if not _FOUR_DIGITS.search(text):
        return text, 0
    return _SSN.sub(check, text), found


# --- IP addresses ------------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(
    rf"(?<![0-9.])(?<![A-Za-z0-9]\.)(?P<ip>{_OCTET}(?:\.{_OCTET}){{3}})(?![0-9]|\.[0-9])",
    re.ASCII,
)
# Four dotted numbers after one of these words are a version or build, not an address.
_VERSION_WORD = re.compile(
    r"(?i)(?:\bv|\bver\.?|version|build|release|firmware|update|patch|driver|app|ios|android"
    r"|chrome|firefox|safari|edge|windows|macos)"
    r"\s{0,2}$"
)
_TWO_COLONS = re.compile(r":[0-9A-Fa-f]{0,4}:")
_DIGIT_DOT_DIGIT = re.compile(r"[0-9]\.[0-9]")
_IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}"
    r"(?:(?<=:)[0-9]{1,3}(?:\.[0-9]{1,3}){3})?(?:%[A-Za-z0-9]{1,16})?(?![\w:]|\.[0-9])",
    re.ASCII,
)


def ip(text: str, _region: str) -> tuple[str, int]:
    """IPv4 (dotted quad, each octet 0-255, not after "version"/"build" …) and IPv6 (any form
    ``ipaddress`` accepts: compressed, full, IPv4-mapped, with a zone)."""
    found = 0

    def check4(match: re.Match[str]) -> str:
        nonlocal found
        if _VERSION_WORD.search(text, max(0, match.start() - 12), match.start()):
            return match.group()
        found += 1
        return "[IP]"

    def check6(match: re.Match[str]) -> str:
        nonlocal found
        candidate = match.group().split("%", 1)[0]
        if sum(1 for part in candidate.split(":") if part) < 2:
            return match.group()  # "::" or "a::" alone is punctuation, not an address
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            return match.group()
        found += 1
        return "[IP]"

    # The prefilters are necessary parts of each pattern: two colons at most four hex digits
    # apart (the IPv6 lookahead), a digit, a dot and a digit (IPv4).
    if ":" in text and _TWO_COLONS.search(text):
        text = _IPV6.sub(check6, text)  # first, so "::ffff:192.0.2.1" is one address
    if "." in text and _DIGIT_DOT_DIGIT.search(text):
        text = _IPV4.sub(check4, text)
    return text, found


# --- phone numbers -----------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"[0-9][0-9 ().-]{5,}[0-9]", re.ASCII)


def phone(text: str, region: str) -> tuple[str, int]:
    """Numbers libphonenumber finds and holds valid: international (``+44 20 …``) anywhere,
    national formats of ``region`` (the source's default region)."""
    if not _DIGIT_RUN.search(text):
        return text, 0  # the matcher is the slowest detector; most texts hold no digit run
    out: list[str] = []
    last = 0
    for match in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID):
        if not _phone_standalone(text, match.start, match.end, match.raw_string):
            continue
        out.append(text[last : match.start])
        out.append("[PHONE]")
        last = match.end
    out.append(text[last:])
    return "".join(out), len(out) // 2


# Bare digits right after one of these words are the record's id, not a phone number.
_ID_WORD = re.compile(
    r"(?i)\b(?:order|invoice|inv|ref|reference|tracking|ticket|case|account|acct|id|sku|"
    r"confirmation|transaction|po|shipment|parcel|serial|receipt)\s{0,2}(?:#|no\.?|id)?"
    r"\s{0,2}[:#]?\s{0,2}$"
)
_DATE_LIKE = re.compile(r"[0-9]{1,4}([./-])[0-9]{1,2}\1[0-9]{2,4}", re.ASCII)


def _phone_standalone(text: str, start: int, end: int, raw: str) -> bool:
    """Not part of a longer token (``INV-2023-630683``), a date, or a version after its word."""
    before = text[start - 1] if start else " "
    after = text[end : end + 2]
    if before.isalnum() or before in "-_/.":
        return False
    if after[:1].isalnum() or (after[:1] in "-_/.:" and after[1:2].isalnum()):
        return False  # "20.12.2024 10" of "20.12.2024 10:00" is a date and a time
    if _DATE_LIKE.match(raw):
        return False
    if raw.isdigit() and _ID_WORD.search(text, max(0, start - 24), start):
        return False
    return not (raw.count(".") >= 2 and _VERSION_WORD.search(text, max(0, start - 12), start))
