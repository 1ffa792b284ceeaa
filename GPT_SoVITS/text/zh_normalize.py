"""Chinese text normalisation: numbers, dates, times, units, phone numbers and punctuation to speakable text.

The rules follow the official frontend (PaddleSpeech's zh_normalization as GPT-SoVITS ships it), applied
in the same order, so ``normalize("今天是2024年3月5日")`` gives the text the official models were trained on.
One deliberate difference: unit abbreviations (cm, kg, s, m ...) are read only right after a number; the
official code replaces them anywhere, turning letters of Latin words into 米/秒. Ordinals keep 二 (第2名).

Phone numbers follow the official order by default: arithmetic signs are read before phone numbers, so a
hyphen between digit groups is the minus sign 减 (010-12345678 -> 零幺零减幺二三四五六七八) and each group
is then read by its own rule (three or more digits one by one with 1 as 幺, shorter groups as cardinals).
``phone_pauses=True`` reads hyphen-joined digit groups that look like a phone number (two or more groups of
at least three digits, seven digits or more) group by group with a pause instead (零幺零,幺二三四五六七八).
"""

from __future__ import annotations

import re
from functools import cache

from GPT_SoVITS.text.symbols import BASE_MARK_MAP, PUNCTUATION
from GPT_SoVITS.text.zh_numbers import cardinal, number, read_digits

# Sentence ends (a closing quote stays with its sentence).
_SENTENCE_END = re.compile(r"([：、，；。？！,;?!][”’]?)")
# Characters dropped before splitting (brackets, quotes and other marks the models have no symbol for).
_DROP_BEFORE_SPLIT = re.compile(r"[—《》【】<>{}()（）#&@“”^_|\\]")
_DROP_AFTER = re.compile(r"[-—《》【】<=>{}()（）#&@“”^_|\\]")

_FULL_WIDTH = {0xFF10 + i: ord("0") + i for i in range(10)}
_FULL_WIDTH.update({0xFF21 + i: ord("A") + i for i in range(26)})
_FULL_WIDTH.update({0xFF41 + i: ord("a") + i for i in range(26)})
_FULL_WIDTH[0x3000] = ord(" ")

_DATE = re.compile(r"(\d{4}|\d{2})年((0?[1-9]|1[0-2])月)?(((0?[1-9])|((1|2)[0-9])|30|31)([日号]))?")
_DATE_NUMERIC = re.compile(r"(\d{4})([- /.])(0[1-9]|1[012])\2(0[1-9]|[12][0-9]|3[01])")
_CLOCK = r"([0-1]?[0-9]|2[0-3]):([0-5][0-9])(:([0-5][0-9]))?"
_TIME_RANGE = re.compile(_CLOCK + r"[~-]" + _CLOCK)
_TIME = re.compile(_CLOCK)
_NUM = r"(-?)(\d+(?:\.\d+)?)"
_UNIT_WORDS = {
    "cm2": "平方厘米",
    "cm²": "平方厘米",
    "cm3": "立方厘米",
    "cm³": "立方厘米",
    "cm": "厘米",
    "mm": "毫米",
    "km": "千米",
    "m2": "平方米",
    "m²": "平方米",
    "m3": "立方米",
    "m³": "立方米",
    "ml": "毫升",
    "m": "米",
    "kg": "千克",
    "db": "分贝",
    "ds": "毫秒",
    "s": "秒",
}
_UNIT_ALTERNATION = "|".join(re.escape(u) for u in sorted(_UNIT_WORDS, key=len, reverse=True))
_TO_RANGE = re.compile(
    rf"({_NUM}(%|°C|℃|摄氏度|度|{_UNIT_ALTERNATION}))~({_NUM}(%|°C|℃|摄氏度|度|{_UNIT_ALTERNATION}))"
)
_TEMPERATURE = re.compile(_NUM + r"(°C|℃|摄氏度|度)")
_MEASURE = re.compile(rf"(\d)({_UNIT_ALTERNATION})(?![A-Za-z])")
_POWERS = "⁰¹²³⁴⁵⁶⁷⁸⁹ˣʸⁿ"
_OPERAND = rf"(-?\d+(?:\.\d+)?[{_POWERS}]*|\.\d+[{_POWERS}]*|[A-Za-z][{_POWERS}]*)"
_ARITHMETIC = re.compile(_OPERAND + r"([+\-×÷=])" + _OPERAND)
_OPERATOR_WORDS = {"+": "加", "-": "减", "×": "乘", "÷": "除", "=": "等于"}
_POWER = re.compile(f"[{_POWERS}]+")
_FRACTION = re.compile(r"(-?)(\d+)/(\d+)")
_PERCENT = re.compile(_NUM + "%")
_MOBILE = re.compile(r"(?<!\d)((\+?86 ?)?1([38]\d|5[0-35-9]|7[678]|9[89])\d{8})(?!\d)")
_TELEPHONE = re.compile(r"(?<!\d)((0(10|2[1-3]|[3-9]\d{2})-?)?[1-9]\d{6,7})(?!\d)")
_SERVICE_NUMBER = re.compile(r"(400)(-)?\d{3}(-)?\d{4}")
# Digit groups joined by hyphens as phone numbers are written (138-1234-5678, 010-12345678, +86-10-...).
_HYPHEN_PHONE = re.compile(r"(?<![\d.\-])\+?\d{2,4}(?:-\d{2,8}){1,3}(?![\d.\-])")
_RANGE = re.compile(r"(?<![\d+\-×÷=])(-?\d+(?:\.\d+)?)[-~](-?\d+(?:\.\d+)?)(?![\d+\-×÷=])")
_NEGATIVE = re.compile(r"-(\d+)")
_DECIMAL = re.compile(r"(-?)(\d+\.\d+)|\.(\d+)")
# Measure words after which a number is read as a quantity (2 -> 两): 3本书, 25个人, 100元.
_MEASURE_WORDS = (
    "小时|千克|毫克|公斤|公里|千米|厘米|毫米|公分|美元|亿元|万元|千元|百元|块钱|"
    "处|台|架|枚|趟|幅|平|方|堵|间|床|株|批|项|例|列|篇|栋|注|亩|封|艘|把|目|套|段|人|所|朵|匹|张|座|回|"
    "场|尾|条|个|首|阙|阵|网|炮|顶|丘|棵|只|支|袭|辆|挑|担|颗|壳|曲|墙|群|腔|客|贯|扎|捆|刀|令|打|手|"
    "罗|坡|山|岭|江|溪|钟|队|单|双|对|出|口|头|脚|板|跳|枝|件|贴|针|线|管|名|位|身|堂|课|本|页|家|户|"
    "层|丝|毫|厘|分|钱|两|斤|石|寸|尺|丈|里|米|升|斗|盘|碗|碟|叠|桶|笼|盆|盒|杯|锅|篮|罐|瓶|壶|盏|箱|"
    "袋|年|月|日|季|刻|时|周|天|秒|旬|岁|世|夜|代|辈|丸|泡|粒|幢|堆|根|道|面|片|块|元|吨|角|毛|次|遍|"
    "倍|度|级|届|部|章|节|集|期|款|种|样|份|副|轮|圈|步|声|下|口"
)
# not after 第: ordinals keep 二 (第2名 -> 第二名; the official code says 第两名)
_QUANTITY = re.compile(r"(?<!第)(\d+)([多余几+])?(" + _MEASURE_WORDS + ")")
_CODE_NUMBER = re.compile(r"\d{3}\d*")
_NUMBER = re.compile(r"(-?)(\d+(?:\.\d+)?)|\.(\d+)")

_LETTER_WORDS = {
    "/": "每",
    "①": "一",
    "②": "二",
    "③": "三",
    "④": "四",
    "⑤": "五",
    "⑥": "六",
    "⑦": "七",
    "⑧": "八",
    "⑨": "九",
    "⑩": "十",
    "α": "阿尔法",
    "β": "贝塔",
    "γ": "伽马",
    "Γ": "伽马",
    "δ": "德尔塔",
    "Δ": "德尔塔",
    "ε": "艾普西隆",
    "ζ": "泽塔",
    "η": "伊塔",
    "θ": "西塔",
    "Θ": "西塔",
    "ι": "约塔",
    "κ": "卡帕",
    "λ": "兰姆达",
    "Λ": "兰姆达",
    "μ": "缪",
    "ν": "纽",
    "ξ": "克西",
    "Ξ": "克西",
    "ο": "奥密克戎",
    "π": "派",
    "Π": "派",
    "ρ": "柔",
    "σ": "西格玛",
    "ς": "西格玛",
    "Σ": "西格玛",
    "τ": "陶",
    "υ": "宇普西隆",
    "φ": "斐",
    "Φ": "斐",
    "χ": "卡伊",
    "ψ": "普西",
    "Ψ": "普西",
    "ω": "欧米伽",
    "Ω": "欧米伽",
    "+": "加",
    "-": "减",
    "×": "乘",
    "÷": "除",
    "=": "等",
}

# Punctuation mapped onto the model's marks, then everything but Han characters and those marks removed.
_PUNCT_MAP = {
    **BASE_MARK_MAP,
    "...": "…",
    "$": ".",
    "/": ",",
    "—": "-",
    "~": "…",
    "～": "…",
}
_PUNCT_PATTERN = re.compile("|".join(re.escape(p) for p in _PUNCT_MAP))
_MARKS = re.escape("".join(PUNCTUATION))
_NOT_HAN_OR_MARK = re.compile(r"[^\u4e00-\u9fa5" + _MARKS + r"]+")
_NOT_HAN_LATIN_OR_MARK = re.compile(r"[^\u4e00-\u9fa5A-Za-z" + _MARKS + r"]+")
_REPEATED_MARKS = re.compile(f"([{_MARKS}])([{_MARKS}])+")


@cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def _time(m: re.Match, offset: int = 0) -> str:
    hour, minute, second = m.group(1 + offset), m.group(2 + offset), m.group(4 + offset)
    words = number(hour) + "点"
    if minute.lstrip("0"):
        words += "半" if int(minute) == 30 else _clock_part(minute) + "分"
    if second and second.lstrip("0"):
        words += _clock_part(second) + "秒"
    return words


def _clock_part(value: str) -> str:
    words = number(value.lstrip("0"))
    return "零" + words if value.startswith("0") else words


def _date(m: re.Match) -> str:
    words = read_digits(m.group(1)) + "年"
    if m.group(3):
        words += cardinal(m.group(3)) + "月"
    if m.group(5):
        words += cardinal(m.group(5)) + m.group(9)
    return words


def _signed(sign: str, value: str, minus: str = "负") -> str:
    return (minus if sign else "") + number(value)


def _phone(m: re.Match, separator: str) -> str:
    parts = m.group(0).strip("+").split(separator) if separator else m.group(0).strip("+").split()
    return "，".join(read_digits(p, alt_one=True) for p in parts if p)


def _hyphen_phone(m: re.Match) -> str:
    groups = m.group(0).lstrip("+").split("-")
    if sum(map(len, groups)) < 7 or min(map(len, groups[1:])) < 3:
        return m.group(0)  # ranges and short codes (12-15, 3-4-5) keep their ordinary reading
    return "，".join(read_digits(g, alt_one=True) for g in groups)


def _phones(s: str, pauses: bool) -> str:
    if pauses:
        s = _HYPHEN_PHONE.sub(_hyphen_phone, s)
    s = _MOBILE.sub(lambda m: _phone(m, ""), s)
    s = _TELEPHONE.sub(lambda m: _phone(m, "-"), s)
    return _SERVICE_NUMBER.sub(lambda m: _phone(m, "-"), s)


def _quantity(m: re.Match) -> str:
    words = cardinal(m.group(1))
    more = "多" if m.group(2) == "+" else (m.group(2) or "")
    return ("两" if words == "二" else words) + more + m.group(3)


def _number_match(m: re.Match) -> str:
    if m.group(3) is not None:  # ".5" -> 零点五
        return number("." + m.group(3))
    return _signed(m.group(1), m.group(2))


def normalize_sentence(sentence: str, phone_pauses: bool = False) -> str:
    """Verbalise numbers and symbols of one sentence (order matters: dates before times before numbers).

    ``phone_pauses``: read hyphen-joined phone numbers group by group with pauses (see the module text);
    False keeps the official reading, where the hyphen is 减.
    """
    s = to_simplified(sentence).translate(_FULL_WIDTH)
    s = _DATE.sub(_date, s)
    s = _DATE_NUMERIC.sub(
        lambda m: read_digits(m.group(1)) + "年" + cardinal(m.group(3)) + "月" + cardinal(m.group(4)) + "日",
        s,
    )
    s = _TIME_RANGE.sub(lambda m: _time(m) + "至" + _time(m, 4), s)
    s = _TIME.sub(_time, s)
    s = _TO_RANGE.sub(lambda m: m.group(0).replace("~", "至"), s)
    s = _TEMPERATURE.sub(lambda m: _signed(m.group(1), m.group(2), "零下") + "度", s)
    s = _MEASURE.sub(lambda m: m.group(1) + _UNIT_WORDS[m.group(2)], s)
    if phone_pauses:  # before arithmetic, which would read the hyphens as 减
        s = _phones(s, True)
    while _ARITHMETIC.search(s):
        s = _ARITHMETIC.sub(lambda m: m.group(1) + _OPERATOR_WORDS[m.group(2)] + m.group(3), s)
    s = _POWER.sub(lambda m: "的" + m.group(0).translate(str.maketrans(_POWERS, "0123456789xyn")) + "次方", s)
    s = _FRACTION.sub(
        lambda m: ("负" if m.group(1) else "") + number(m.group(3)) + "分之" + number(m.group(2)), s
    )
    s = _PERCENT.sub(lambda m: ("负" if m.group(1) else "") + "百分之" + number(m.group(2)), s)
    if not phone_pauses:  # the official place: after arithmetic, fractions and percentages
        s = _phones(s, False)
    s = _RANGE.sub(
        lambda m: _NUMBER.sub(_number_match, m.group(1)) + "到" + _NUMBER.sub(_number_match, m.group(2)), s
    )
    s = _NEGATIVE.sub(lambda m: "负" + number(m.group(1)), s)
    s = _DECIMAL.sub(_number_match, s)
    s = _QUANTITY.sub(_quantity, s)
    s = _CODE_NUMBER.sub(lambda m: read_digits(m.group(0), alt_one=True), s)
    s = _NUMBER.sub(_number_match, s)
    s = "".join(_LETTER_WORDS.get(ch, ch) for ch in s)
    return _DROP_AFTER.sub("", s)


def split_sentences(text: str) -> list[str]:
    text = _DROP_BEFORE_SPLIT.sub("", text.replace(" ", ""))
    text = _SENTENCE_END.sub(r"\1\n", text).strip()
    return [s.strip() for s in re.split(r"\n+", text)]


def map_punctuation(text: str, keep_latin: bool = False) -> str:
    """Model punctuation only; Han characters (and Latin letters when asked) kept, the rest removed."""
    text = text.replace("嗯", "恩").replace("呣", "母")
    text = _PUNCT_PATTERN.sub(lambda m: _PUNCT_MAP[m.group(0)], text)
    return (_NOT_HAN_LATIN_OR_MARK if keep_latin else _NOT_HAN_OR_MARK).sub("", text)


def collapse_repeated_marks(text: str) -> str:
    return _REPEATED_MARKS.sub(r"\1", text)


def normalize(text: str, keep_latin: bool = False, phone_pauses: bool = False) -> str:
    """The norm_text of the Chinese frontend: verbalised, official punctuation, other characters removed.

    ``phone_pauses``: see ``normalize_sentence`` (off: the official reading).
    """
    sentences = [normalize_sentence(s, phone_pauses) for s in split_sentences(text)]
    return collapse_repeated_marks("".join(map_punctuation(s, keep_latin) for s in sentences))
