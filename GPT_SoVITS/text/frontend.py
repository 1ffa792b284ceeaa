"""Text frontend: text -> normalised text -> phonemes -> symbol ids, plus BERT features (get_phones_and_bert).

    text_to_phones("我有3.5个苹果", "zh", "v2") -> (phones, word2ph, norm_text)
    (phones_bert.phones_and_bert("Hello 世界", "auto", "v2", bert=None) -> (ids, bert [1024, N], norm_text))

``language`` is one of zh, en, ja, ko, yue (ko and yue need the v2 symbol table); a ``mode`` is one of the
official UI choices (see ``langsplit.MODES``). Overrides ``{word|reading}`` and user dictionaries are
honoured everywhere (see ``overrides``). Results equal the official ``clean_text`` on the paths the golden
data records (see GPT_SoVITS/parity/frontend.py). ``ReadingOptions`` holds the readings that differ from the
official ones on purpose (all off by default); a result read differently names the option in its notes.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.text import langsplit
from GPT_SoVITS.text.langsplit import LanguageError
from GPT_SoVITS.text.overrides import Override, Token, apply_user_dict, parse_overrides
from GPT_SoVITS.text.symbols import ARPA_SYMBOLS, symbol_to_id, symbol_version, symbols

if TYPE_CHECKING:
    from GPT_SoVITS.text.ja import Engine

log = logging.getLogger(__name__)

_V1_LANGUAGES = ("zh", "en", "ja")
# Marks the Chinese frontend turns into long pauses (every comma of such a text becomes that pause).
_SPECIAL_PAUSES = (("￥", "SP2"), ("^", "SP3"))
MAX_TEXT_CHARS = 100_000  # longer input is refused (cut it into segments first)
BERT_DIM = 1024


class FrontendError(UserError):
    """Input the frontend cannot turn into phonemes (the message says which part and why)."""


@dataclass(frozen=True)
class ReadingOptions:
    """Readings that differ from the official frontend on purpose. Every default is the official reading;
    a result read differently names the option in its ``notes``."""

    # Chinese: hyphen-joined phone numbers group by group with pauses
    # (010-12345678 -> 零幺零,幺二三四五六七八) instead of the official minus sign (零幺零减幺二三四五六七八).
    zh_phone_pauses: bool = False
    # Japanese G2P engine: "auto" (OpenJTalk 1.11 with the NAIST dictionary, as the official environment's
    # pyopenjtalk 0.4.1, when installed; else pyopenjtalk-plus), "openjtalk" (that engine or an error) or
    # "pyopenjtalk-plus" (its own dictionary and number rules: readings of numbers with counters and some
    # accents differ from the official ones).
    ja_engine: str = "auto"


OFFICIAL = ReadingOptions()


@dataclass
class FrontendResult:
    phones: list[str]
    word2ph: list[int] | None  # per character of norm_text (zh, yue); None for en, ja, ko
    norm_text: str
    language: str
    backend: str = ""  # zh: "pypinyin" or "g2pw"; other languages: the library used
    notes: list[str] = field(default_factory=list)


# Spellings found in official .list files and API calls (1-get-text.py maps ZH/JP/EN/KO/YUE; the
# inference code strips "all_").
_ALIASES = {"jp": "ja", "all_zh": "zh", "all_ja": "ja", "all_ko": "ko", "all_yue": "yue"}


def canonical_language(language: str) -> str:
    """zh, en, ja, ko or yue for a language code or an official alias (ZH, JP, all_zh, ...)."""
    code = language.strip().lower()
    code = _ALIASES.get(code, code)
    if code not in langsplit.LANGUAGES:
        raise LanguageError(f"unknown language {language!r}; known: {', '.join(langsplit.LANGUAGES)}")
    return code


def check_language(language: str, version: str) -> str:
    """The symbol version for ``version``; raises when the language is unknown or absent from it."""
    sv = symbol_version(version)
    if language not in langsplit.LANGUAGES:
        raise LanguageError(f"unknown language {language!r}; known: {', '.join(langsplit.LANGUAGES)}")
    if sv == "v1" and language not in _V1_LANGUAGES:
        raise LanguageError(
            f"language {language!r} needs a v2-symbol model; v1 knows {', '.join(_V1_LANGUAGES)}"
        )
    return sv


# Control characters, private-use and unassigned code points, and emoji/pictographs have no reading in any
# language: they are removed before G2P (officially ja/ko would read each as UNK / 停). Other symbols
# (℃, %, ①) stay: the normalisers read them.
_UNREADABLE = frozenset(("Cc", "Cf", "Co", "Cs", "Cn"))
_EMOJI_BLOCKS = ((0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x1F000, 0x1FAFF), (0xFE00, 0xFE0F))


def _readable(ch: str) -> bool:
    if ch == "\n":
        return True
    if unicodedata.category(ch) in _UNREADABLE:
        return False
    return not any(lo <= ord(ch) <= hi for lo, hi in _EMOJI_BLOCKS)


def remove_unreadable(text: str) -> str:
    return "".join(ch for ch in text if _readable(ch))


def _zh_like(
    tokens: list[Token], language: str, version: str, use_g2pw: bool, options: ReadingOptions
) -> FrontendResult:
    from GPT_SoVITS.text import yue, zh, zh_normalize

    notes: list[str] = []
    norm_parts: list[str] = []
    forced: dict[int, str] = {}
    special = None
    for token in tokens:
        if isinstance(token, Override):
            readings = token.reading.split()
            if len(readings) != len(token.word) or not all(_is_han(ch) for ch in token.word):
                raise FrontendError(
                    f"override {{{token.word}|{token.reading}}}: give one syllable per Chinese character"
                )
            start = sum(map(len, norm_parts))
            forced.update({start + i: r for i, r in enumerate(readings)})
            norm_parts.append(token.word)
            continue
        text = token
        for mark, symbol in _SPECIAL_PAUSES:
            if language == "zh" and mark in text:
                text, special = text.replace(mark, ","), symbol
        if language == "yue":
            norm_parts.append(yue.normalize(text))
            continue
        norm = zh_normalize.normalize(text, phone_pauses=options.zh_phone_pauses)
        if options.zh_phone_pauses and norm != zh_normalize.normalize(text):
            notes.append("zh_phone_pauses: phone numbers read group by group (officially '-' is 减)")
        norm_parts.append(norm)
    norm_text = "".join(norm_parts)
    if language == "zh":
        if not forced:  # pieces joined around an override could repeat a mark; positions must not move
            norm_text = zh_normalize.collapse_repeated_marks(norm_text)
        g2pw = None
        if use_g2pw and version != "v1":  # the official v1 frontend never used G2PW
            from GPT_SoVITS.paths import PRETRAINED_DIR
            from GPT_SoVITS.text.g2pw import load_g2pw

            g2pw = load_g2pw(PRETRAINED_DIR)
        result = zh.g2p(norm_text, version, forced, g2pw)
        phones, word2ph, backend = result.phones, result.word2ph, result.backend
    else:
        result = yue.g2p(norm_text, forced)
        phones, word2ph, backend = result.phones, result.word2ph, "ToJyutping"
    if special:  # official clean_special: every comma becomes the pause symbol
        phones = [special if p == "," else p for p in phones]
    return FrontendResult(phones, word2ph, norm_text, language, backend, notes)


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fa5"


def _english(tokens: list[Token]) -> FrontendResult:
    from GPT_SoVITS.text import en, en_normalize

    phones: list[str] = []
    norm_parts: list[str] = []
    for token in tokens:
        if isinstance(token, Override):
            arpa = token.reading.upper().split()
            bad = [p for p in arpa if p not in ARPA_SYMBOLS]
            if bad:
                raise FrontendError(
                    f"override {{{token.word}|{token.reading}}}: not ARPAbet: {' '.join(bad)}"
                )
            phones += arpa
            norm_parts.append(token.word)
        else:
            norm = en_normalize.normalize(token)
            phones += en.g2p(norm)
            norm_parts.append(norm)
    if 0 < len(phones) < 4:  # the official frontend pads very short English with a leading pause
        phones = [",", *phones]
    return FrontendResult(phones, None, "".join(norm_parts), "en", "cmudict+g2p_en")


def _ja_engine(options: ReadingOptions) -> tuple[Engine, list[str]]:
    """The Japanese engine for the options, and a note naming non-official readings (option or fallback)."""
    from GPT_SoVITS.text import ja

    try:
        engine = ja.select_engine(options.ja_engine)
    except ja.EngineError as e:
        raise FrontendError(str(e)) from e
    if engine is not ja.PLUS:
        return engine, []
    why = "ja_engine=pyopenjtalk-plus" if options.ja_engine == "pyopenjtalk-plus" else "no OpenJTalk 1.11"
    return engine, [f"{why}: numbers with counters and some accents read by pyopenjtalk-plus, not officially"]


def _read_as_written(tokens: list[Token], language: str, options: ReadingOptions) -> FrontendResult:
    from GPT_SoVITS.text import ja, ko

    notes: list[str] = []
    if language == "ja":
        engine, notes = _ja_engine(options)

        def g2p(text: str) -> list[str]:
            return ja.g2p(text, engine)

        normalize, backend = ja.normalize, engine.name
    else:
        g2p, normalize, backend = ko.g2p, ko.normalize, "g2pk2"
    phones: list[str] = []
    norm_parts: list[str] = []
    for token in tokens:
        if isinstance(token, Override):
            phones += g2p(token.reading)
            norm_parts.append(token.word)
        else:
            phones += g2p(normalize(token))
            norm_parts.append(normalize(token))
    return FrontendResult(phones, None, "".join(norm_parts), language, backend, notes)


def analyze(
    tokens: list[Token] | str,
    language: str,
    version: str = "v2",
    user_dict=None,
    use_g2pw: bool = True,
    options: ReadingOptions | None = None,
) -> FrontendResult:
    """Phonemes of one run of one language (tokens from ``overrides.parse_overrides`` or plain text).

    ``use_g2pw``: Chinese polyphones from the G2PW model when its files are in pretrained_models/ (the
    result's ``backend`` says which path ran); False forces the pypinyin path the goldens record.
    ``options``: readings that differ from the official ones on purpose (default: all official).
    """
    options = options or OFFICIAL
    language = canonical_language(language)
    sv = check_language(language, version)
    if isinstance(tokens, str):
        tokens = parse_overrides(tokens)
    tokens = [t if isinstance(t, Override) else remove_unreadable(t) for t in tokens]
    tokens = apply_user_dict([t for t in tokens if t], user_dict)
    if sum(len(t) if isinstance(t, str) else len(t.word) for t in tokens) > MAX_TEXT_CHARS:
        raise FrontendError(f"text longer than {MAX_TEXT_CHARS} characters; cut it into segments first")
    if language in ("zh", "yue"):
        result = _zh_like(tokens, language, sv, use_g2pw, options)
    elif language == "en":
        result = _english(tokens)
    else:
        result = _read_as_written(tokens, language, options)
    table = set(symbols(sv))
    result.phones = [p if p in table else "UNK" for p in result.phones]
    return result


def text_to_phones(
    text: str,
    language: str,
    version: str = "v2",
    user_dict: dict[str, str] | None = None,
    use_g2pw: bool = True,
    options: ReadingOptions | None = None,
) -> tuple[list[str], list[int] | None, str]:
    """(phones, word2ph, norm_text) of text in one language, as the official ``clean_text``."""
    result = analyze(text, language, version, user_dict, use_g2pw, options)
    return result.phones, result.word2ph, result.norm_text


def phones_to_ids(phones: list[str], version: str = "v2") -> list[int]:
    """Symbol ids (official ``cleaned_text_to_sequence``); unknown symbols raise with their name."""
    table = symbol_to_id(symbol_version(version))
    try:
        return [table[p] for p in phones]
    except KeyError as e:
        raise FrontendError(
            f"phone {e.args[0]!r} is not in the {symbol_version(version)} symbol table"
        ) from e


def _token_language(token: Override, mode: str) -> str:
    runs = langsplit.detect_runs(token.word)
    detected = runs[0][0] if len(runs) == 1 else ""
    if detected == "en" or mode == "en":
        return "en"
    if mode.startswith("all_"):
        return mode[4:]
    if mode in ("auto", "auto_yue"):
        chinese = "yue" if mode == "auto_yue" else "zh"
        return chinese if detected in ("zh", "") else detected
    return mode


def split_runs(text: str, mode: str) -> list[tuple[str, list[Token]]]:
    """Language runs as token lists (overrides keep their place and are never split)."""
    runs: list[tuple[str, list[Token]]] = []
    for token in parse_overrides(text):
        if isinstance(token, Override):
            pieces: list[tuple[str, Token]] = [(_token_language(token, mode), token)]
        else:
            pieces = list(langsplit.split_languages(token, mode))
        for lang, piece in pieces:
            if runs and runs[-1][0] == lang:
                runs[-1][1].append(piece)
            else:
                runs.append((lang, [piece]))
    return runs


def split_languages(text: str, mode: str) -> list[tuple[str, str]]:
    """(language, text) runs for an official mode; overrides are kept in the run texts."""
    return [(lang, "".join(_render(t) for t in tokens)) for lang, tokens in split_runs(text, mode)]


def _render(token: Token) -> str:
    return token if isinstance(token, str) else f"{{{token.word}|{token.reading}}}"


def _analyze_text(
    text: str, mode: str, version: str, user_dict, options: ReadingOptions | None = None
) -> list[FrontendResult]:
    mode = mode.strip().lower()  # the official API lower-cases text_lang too
    if mode not in langsplit.MODES:
        raise LanguageError(f"unknown language mode {mode!r}; known: {', '.join(langsplit.MODES)}")
    text = re.sub(" {2,}", " ", text)
    results = []
    for lang, tokens in split_runs(text, mode):
        result = analyze(tokens, lang, version, user_dict, options=options)
        if result.phones:
            results.append(result)
    return results


def with_short_text_rule(
    text: str, mode: str, version: str, user_dict, options: ReadingOptions | None = None
) -> list[FrontendResult]:
    results = _analyze_text(text, mode, version, user_dict, options)
    if not results:  # empty, emoji or control characters only (officially: a lone full stop)
        raise FrontendError(f"nothing to speak in {text[:50]!r} (no letters or characters the models read)")
    if sum(len(r.phones) for r in results) < 6:  # official: very short text gets a leading full stop
        results = _analyze_text("." + text, mode, version, user_dict, options)
    return results


def preview(
    text: str,
    mode: str,
    version: str = "v2",
    user_dict: dict[str, str] | None = None,
    options: ReadingOptions | None = None,
) -> list[dict]:
    """What the model will see, run by run: language, normalised text, phonemes, ids, the G2P used and the
    reading options that changed the official reading (``notes``)."""
    return [
        {
            "language": r.language,
            "norm_text": r.norm_text,
            "phones": r.phones,
            "ids": phones_to_ids(r.phones, version),
            "word2ph": r.word2ph,
            "backend": r.backend,
            "notes": r.notes,
        }
        for r in with_short_text_rule(text, mode, version, user_dict, options)
    ]
