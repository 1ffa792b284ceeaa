"""Chinese number words: cardinals, digit strings, decimals (the readings the official frontend uses)."""

from __future__ import annotations

DIGIT_WORDS = "零一二三四五六七八九"
# Place units by exponent: 10^1 .. 10^3 inside a four-digit group, 10^4 and 10^8 between groups.
_UNITS = ((8, "亿"), (4, "万"), (3, "千"), (2, "百"), (1, "十"))


def read_digits(digits: str, alt_one: bool = False) -> str:
    """Digit by digit (years, codes). ``alt_one`` reads 1 as 幺, as in phone numbers."""
    words = "".join(DIGIT_WORDS[int(d)] for d in digits)
    return words.replace("一", "幺") if alt_one else words


def _spell(digits: str, pad_zero: bool) -> list[str]:
    """Words of a digit string that may carry leading zeros; a lost zero is read once as 零."""
    significant = digits.lstrip("0")
    if not significant:
        return []
    if len(significant) == 1:
        word = DIGIT_WORDS[int(significant)]
        return ["零", word] if pad_zero and len(significant) < len(digits) else [word]
    exponent, unit = next((e, u) for e, u in _UNITS if e < len(significant))
    high, low = digits[:-exponent], digits[-exponent:]
    return [*_spell(high, True), unit, *_spell(low, True)]


def cardinal(digits: str) -> str:
    """Integer reading: 1203 -> 一千二百零三, 12 -> 十二 (a leading 一十 is said 十)."""
    if not digits:
        return ""
    digits = digits.lstrip("0")
    if not digits:
        return "零"
    words = _spell(digits, True)
    if len(words) >= 2 and words[0] == "一" and words[1] == "十":
        words = words[1:]
    return "".join(words)


def number(value: str) -> str:
    """Integer or decimal reading: 1234.56 -> 一千二百三十四点五六; trailing zeros collapse to one."""
    integer, _, decimal = value.partition(".")
    decimal = "".join(ch for ch in decimal if ch.isdigit())
    words = cardinal(integer)
    # the official rule keeps one trailing zero when the decimals end in zeros (3.50 -> 三点五零)
    decimal = decimal.rstrip("0") + "0" if decimal.endswith("0") else decimal
    if decimal:
        words = (words or "零") + "点" + read_digits(decimal)
    return words
