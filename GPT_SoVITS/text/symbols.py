"""Phoneme symbol tables of the official models (v1: 322 symbols, v2: 732 symbols).

The order is what the text embeddings of official checkpoints were trained with, so it is rebuilt here
by the same recipe the official code uses: the v1 table is the sorted set of every symbol group; v2
appends the Japanese pitch marks, then the sorted Korean jamo, then the sorted Cantonese symbols.
"""

from __future__ import annotations

from functools import cache


def _w(words: str) -> tuple[str, ...]:
    """Whitespace-separated symbols (keeps the tables readable)."""
    return tuple(words.split())


# Punctuation the models know; every frontend maps its punctuation onto these.
PUNCTUATION: tuple[str, ...] = ("!", "?", "…", ",", ".", "-")
# Full-width and other marks every CJK frontend maps onto PUNCTUATION (each language adds its own extras).
BASE_MARK_MAP: dict[str, str] = {
    "：": ",",
    "；": ",",
    "，": ",",
    "。": ".",
    "！": "!",
    "？": "?",
    "\n": ".",
    "·": ",",
    "、": ",",
}
PAD = "_"
SPECIAL_SYMBOLS: tuple[str, ...] = ("SP", "SP2", "SP3", "UNK")

# Mandarin initials; AA/EE/OO are the zero initials of syllables starting with a, e, o.
ZH_INITIALS: tuple[str, ...] = _w("AA EE OO b c ch d f g h j k l m n p q r s sh t w x y z zh")
# Mandarin finals without tone; i0 is the apical vowel after z/c/s, ir after zh/ch/sh/r, E and En the
# finals of ye and yan.
ZH_FINALS: tuple[str, ...] = _w(
    "E En a ai an ang ao e ei en eng er i i0 ia ian iang iao ie in ing iong ir iu "
    "o ong ou u ua uai uan uang ui un uo v van ve vn"
)
ZH_TONES = "12345"  # 5 = neutral tone

# Japanese phonemes as pyopenjtalk writes them (cl = geminate stop, N = moraic nasal, I/U devoiced).
JA_SYMBOLS: tuple[str, ...] = _w(
    "I N U a b by ch cl d dy e f g gy h hy i j k ky m my n ny o p py r ry s sh t ts u v w y z"
)
JA_PITCH_MARKS: tuple[str, ...] = ("[", "]")  # pitch rise / fall, v2 only

# ARPAbet as used by the CMU dictionary (stress digits 0-2), plus the bare ER and IH the official list has.
_ARPA_VOWELS = _w("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW")
_ARPA_CONSONANTS = _w("B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH")
ARPA_SYMBOLS: frozenset[str] = frozenset(
    [v + s for v in _ARPA_VOWELS for s in "012"] + [*_ARPA_CONSONANTS, "ER", "IH"]
)

# Korean: compatibility jamo g2pk2 output is split into, plus 空 (word space) and 停 (unknown / pause).
KO_SYMBOLS: tuple[str, ...] = tuple("ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎㄲㄸㅃㅆㅉㅏㅓㅗㅜㅡㅣㅐㅔ空停")

# Cantonese (jyutping), every symbol prefixed with Y so none collides with Mandarin.
_YUE_INITIALS = _w("b c d f g gw h j k kw l m n ng p s t w z")
_YUE_TONED = _w(
    "a aa aai aak aam aan aang aap aat aau ai ak am an ang ap at au e ei ek eng eoi eon eot "
    "i ik im in ing ip it iu o oe oek oeng oi ok on ong ot ou u ui uk un ung ut yu yun yut "
    # the official split of vowel-less syllables (m4, ng5) and of a few odd spellings leaves these
    # consonants carrying a tone; they are part of the trained table
    "g k m n p t"
)
# Finals that also occur without a tone digit (the official splitter emits the matched "initial" of a
# vowel-initial syllable on its own, e.g. aa1 -> Yaa + Ya1).
_YUE_TONELESS = _w("a aa ai ak au e o oi ok on ou uk")
YUE_SYMBOLS: frozenset[str] = frozenset(
    ["Y" + i for i in _YUE_INITIALS]
    + ["Y" + f + t for f in _YUE_TONED for t in "123456"]
    + ["Y" + f for f in _YUE_TONELESS]
)


def _v1_table() -> list[str]:
    zh_finals_toned = [f + t for t in ZH_TONES for f in ZH_FINALS]
    groups = [PAD, *ZH_INITIALS, *zh_finals_toned, *JA_SYMBOLS, *PUNCTUATION, *SPECIAL_SYMBOLS, *ARPA_SYMBOLS]
    return sorted(set(groups))


@cache
def symbols(version: str) -> tuple[str, ...]:
    """The symbol table of a symbol version ("v1" or "v2"); model versions map through versions.spec."""
    table = _v1_table()
    if version == "v1":
        return tuple(table)
    if version == "v2":
        return tuple(table + list(JA_PITCH_MARKS) + sorted(KO_SYMBOLS) + sorted(YUE_SYMBOLS))
    raise ValueError(f"unknown symbol version {version!r}; known: v1, v2")


@cache
def symbol_to_id(version: str) -> dict[str, int]:
    return {s: i for i, s in enumerate(symbols(version))}


def symbol_version(version: str) -> str:
    """Symbol version of a model version ("v1", "v2", "v2Pro", "v3", ...) or of a symbol version."""
    if version in ("v1", "v2"):
        return version
    from GPT_SoVITS.versions import spec

    return spec(version).symbol_version
