"""English text normalisation: numbers, money, times, units, ordinals and acronyms to words.

The rules and their order are those of the official ``en_normalization/expend.py``; three official bugs
are fixed on purpose: a number followed by ". " becomes an ordinal only at the start of a line (list
numbering; officially "I am 25. You" reads "twenty-fifth"), a negative number keeps the space before it,
and clock times are read before ':' is mapped to ',' (officially 3:30 reads "three hundred thirty").
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

_UNITS = {
    "m": ("meter", "meters"),
    "km": ("kilometer", "kilometers"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "ft": ("feet", "feet"),
    "L": ("liter", "liters"),
    "tbsp": ("tablespoon", "tablespoons"),
    "tsp": ("teaspoon", "teaspoons"),
    "h": ("hour", "hours"),
    "min": ("minute", "minutes"),
    "s": ("second", "seconds"),
    "°C": ("degree celsius", "degrees celsius"),
    "°F": ("degree fahrenheit", "degrees fahrenheit"),
}
_LIST_NUMBER = re.compile(r"(?m)^(\s*)([0-9]+)\. ")
_OPERAND = r"(-?\d+(?:\.\d+)?|\.\d+|[A-Za-z])"
_ARITHMETIC = re.compile(_OPERAND + r"\s+([+\-×÷=])\s+" + _OPERAND)
_OPERATORS = {"+": " plus ", "-": " minus ", "×": " times ", "÷": " divided by ", "=": " equals "}
_NEGATIVE = re.compile(r"(^|\s+)-(\d+)")
_GROUPED = re.compile(r"([0-9][0-9,]+[0-9])")
_TIME = re.compile(r"\b([01]?[0-9]|2[0-3]):([0-5][0-9])\b")
_MEASURE = re.compile(r"\b([0-9]+(\.[0-9]+)?(km/h|km|m|ft|L|tbsp|tsp|h|min|s|°C|°F))\b")
_POUNDS = (re.compile(r"£([0-9.,]*[0-9]+)"), re.compile(r"([0-9.,]*[0-9]+)£"))
_DOLLARS = (re.compile(r"\$([0-9.,]*[0-9]+)"), re.compile(r"([0-9.,]*[0-9]+)\$"))
_DECIMAL = re.compile(r"([0-9]+\.\s*[0-9]+)")
_FRACTION = re.compile(r"([0-9]+/[0-9]+)")
_ORDINAL = re.compile(r"[0-9]+(st|nd|rd|th)")
_NUMBER = re.compile(r"[0-9]+")
_SPLIT_CAPITALS = re.compile(r"(?<!^)(?<!\s)([A-Z])")

# Punctuation mapped onto what the English G2P keeps.
_PUNCT_MAP = {"[;:：，；]": ",", '["’]': "'", "。": ".", "！": "!", "？": "?"}
_PUNCT_PATTERN = re.compile("|".join(_PUNCT_MAP))
_REPEATED = re.compile(r"([!?…,.\-\s])([!?…,.\-])+")


@cache
def _inflect():
    import inflect

    return inflect.engine()


def _measure(m: re.Match) -> str:
    unit = m.group(3)
    amount = m.group(1)[: -len(unit)]
    singular = m.group(2) is None and int(amount) == 1
    return amount + " " + _UNITS[unit][0 if singular else 1]


def _money(m: re.Match, unit: tuple[str, str], sub: tuple[str, str], zero: str) -> str:
    parts = m.group(1).split(".")
    if len(parts) > 2:
        return m.group(1) + " " + unit[1]
    whole = int(parts[0].replace(",", "")) if parts[0].replace(",", "") else 0
    cents = int(parts[1].ljust(2, "0")) if len(parts) > 1 and parts[1] else 0
    words = []
    if whole:
        words.append(f"{whole} {unit[0] if whole == 1 else unit[1]}")
    if cents:
        words.append(f"{cents} {sub[0] if cents == 1 else sub[1]}")
    return " and ".join(words) if words else zero


def _time(m: re.Match) -> str:
    hours, minutes = int(m.group(1)), int(m.group(2))
    period = "a.m." if hours < 12 else "p.m."
    hours = hours - 12 if hours > 12 else hours
    spoken = _inflect().number_to_words(hours)
    if minutes == 0:
        return f"{spoken} o'clock {period}"
    return f"{spoken} {_inflect().number_to_words(minutes)} {period}"


def _decimal(m: re.Match) -> str:
    whole, _, fraction = m.group(1).partition(".")
    return whole + " point " + " ".join(fraction.strip())


def _fraction(m: re.Match) -> str:
    numerator, denominator = (int(x) for x in m.group(0).split("/"))
    top = _inflect().number_to_words(numerator)
    if denominator == 1:
        return top
    if denominator == 2:
        return f"{top} {'half' if numerator == 1 else 'halves'}"
    bottom = _inflect().ordinal(_inflect().number_to_words(denominator))
    return f"{top} {bottom}{'s' if numerator > 1 else ''}"


def _number(m: re.Match) -> str:
    n = int(m.group(0))
    words = _inflect()
    if 1000 < n < 3000:  # years: 1984 -> nineteen eighty-four, 2005 -> two thousand five
        if n == 2000:
            return "two thousand"
        if 2000 < n < 2010:
            return "two thousand " + words.number_to_words(n % 100)
        if n % 100 == 0:
            return words.number_to_words(n // 100) + " hundred"
        return words.number_to_words(n, andword="", zero="oh", group=2).replace(", ", " ")
    return words.number_to_words(n, andword="")


def expand(text: str) -> str:
    """Numbers, money, times and units to words; then only letters, spaces and ' . , ? ! - remain."""
    text = _LIST_NUMBER.sub(lambda m: m.group(1) + _inflect().ordinal(m.group(2)) + ", ", text)
    while _ARITHMETIC.search(text):
        text = _ARITHMETIC.sub(lambda m: m.group(1) + _OPERATORS[m.group(2)] + m.group(3), text)
    text = _NEGATIVE.sub(lambda m: m.group(1) + "negative " + m.group(2), text)
    text = _GROUPED.sub(lambda m: m.group(1).replace(",", ""), text)
    text = _TIME.sub(_time, text)
    text = _MEASURE.sub(_measure, text)
    for pattern in _POUNDS:
        text = pattern.sub(lambda m: _money(m, ("pound", "pounds"), ("penny", "pence"), "zero pounds"), text)
    for pattern in _DOLLARS:
        text = pattern.sub(
            lambda m: _money(m, ("dollar", "dollars"), ("cent", "cents"), "zero dollars"), text
        )
    text = _DECIMAL.sub(_decimal, text)
    text = _FRACTION.sub(_fraction, text)
    text = _ORDINAL.sub(lambda m: _inflect().number_to_words(m.group(0)), text)
    text = _NUMBER.sub(_number, text)
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")
    text = text.replace("%", " percent")
    text = re.sub(r"[^ A-Za-z'.,?!\-]", "", text)
    text = re.sub(r"(?i)i\.e\.", "that is", text)
    text = re.sub(r"(?i)e\.g\.", "for example", text)
    return _SPLIT_CAPITALS.sub(r" \1", text)  # capitals inside a word are spelled: GPT -> G P T


def normalize(text: str) -> str:
    """The norm_text of the English frontend."""
    # Times first: the punctuation map turns ':' into ',' (officially 3:30 is read "three hundred thirty").
    text = _TIME.sub(_time, text)
    text = _PUNCT_PATTERN.sub(lambda m: next(v for k, v in _PUNCT_MAP.items() if re.fullmatch(k, m[0])), text)
    return _REPEATED.sub(r"\1", expand(text))
