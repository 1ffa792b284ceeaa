"""The one table: every bad or awkward input, the stage it is given to, and what must happen.

Outcomes (``Outcome``):
- ``accept``: the stage succeeds (exit 0), its outputs are finite;
- ``warn``: accept with a warning that names what changed (``Case.expect`` must appear in it);
- ``skip``: a batch stage skips the item with a message naming the file, goes on, exits 1 at the end;
- ``reject``: one-line reason naming the input (exit 2 / a ``UserError``);
- ``refuse``: like reject, and the payload never ran (its marker file does not exist).

``fast`` rows make the default run (a representative subset); every row runs in the slow matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tests.robustness import corpus as c


class Outcome(str, Enum):
    ACCEPT = "accept"
    WARN = "accept-with-warning"
    SKIP = "skip-in-batch"
    REJECT = "reject"
    REFUSE = "refuse-without-executing"


A, W, S, R, F = Outcome.ACCEPT, Outcome.WARN, Outcome.SKIP, Outcome.REJECT, Outcome.REFUSE


@dataclass(frozen=True)
class Case:
    id: str
    stage: (
        str  # audio | slice | loudnorm | channels | listfile | sovits | gpt | gpt_model | sovits_model | text
    )
    make: c.Maker | None  # writes the input into a folder; None for text cases
    outcome: Outcome
    expect: str = ""  # words the message must contain (the reason), besides the input's name
    fast: bool = False
    text: str = ""  # text cases: the text
    lang: str = "zh"  # text cases: the language mode
    xfail: str = ""  # a known defect not fixed here (strict xfail)


AUDIO_STAGES = ("audio", "slice", "loudnorm", "channels")
# The CLI runs of the default (fast) run: input id -> stage.
FAST_CLI = {
    "pcm16": "slice", "nan": "loudnorm", "ch8": "channels",
    "mp3_as_wav": "slice", "name_pipe": "slice", "empty": "channels",
}  # fmt: skip


def _audio_rows() -> list[tuple[str, c.Maker, dict[str, Outcome], str, bool]]:
    """(id, maker, outcome per stage, expected words, fast) of every audio input."""
    ok = dict.fromkeys(AUDIO_STAGES, A)
    bad = {"audio": R, "slice": S, "loudnorm": S, "channels": S}
    rows: list[tuple[str, c.Maker, dict[str, Outcome], str, bool]] = [
        ("pcm16", c.wav("PCM_16"), ok, "", True),
        ("pcm24", c.wav("PCM_24"), ok, "", False),
        ("pcm32", c.wav("PCM_32"), ok, "", False),
        ("float32", c.wav("FLOAT"), ok, "", False),
        ("float64", c.wav("DOUBLE"), ok, "", True),
        ("nan", c.float_wav(c.with_nan), bad, "NaN", True),
        ("inf", c.float_wav(c.with_inf, "DOUBLE"), bad, "infinite", False),
        ("overrange", c.float_wav(c.overrange), {**ok, "audio": W}, "full scale", True),
        ("silence", c.float_wav(c.silence, "PCM_16"), {**ok, "loudnorm": S, "slice": S}, "", True),
        ("50ms", c.wav(seconds=0.05), {**ok, "loudnorm": S}, "too short", True),
        ("dc_offset", c.float_wav(c.dc_offset), ok, "", False),
        ("clipped", c.float_wav(c.clipped), ok, "", False),
        ("sr8k", c.wav(sr=8000), ok, "", False),
        ("sr44k", c.wav(sr=44100), ok, "", False),
        ("sr96k", c.wav(sr=96000), ok, "", False),
        ("sr192k", c.wav(sr=192000), ok, "", True),
        ("stereo", c.wav(channels=2), ok, "", False),
        ("ch3", c.wav(channels=3), ok, "", False),
        ("ch6", c.wav(channels=6), {**ok, "loudnorm": S}, "channels", False),
        ("ch8", c.wav(channels=8), {**ok, "loudnorm": S}, "channels", True),
        ("mulaw", c.mulaw, ok, "", False),
        ("mp3_as_wav", c.compressed_as_wav("mp3"), ok, "", True),
        ("ogg_as_wav", c.compressed_as_wav("ogg"), ok, "", False),
        ("flac_as_wav", c.compressed_as_wav("flac"), ok, "", False),
        ("damaged_header", c.damaged_header, bad, "decod", True),
        ("truncated", c.truncated, ok, "", False),
        ("header_only", c.header_only, bad, "no audio", False),
        ("empty", c.empty_file(), bad, "empty", True),
        ("garbage", c.garbage(), bad, "decod", False),
        ("long_pauses", c.pauses, ok, "", False),
    ]
    for key, name in c.HOSTILE_NAMES.items():
        rows.append((f"name_{key}", c.wav(name=name), ok, "", key in ("pipe", "cjk", "dash")))
    return rows


def _audio_cases() -> list[Case]:
    out = []
    for case_id, make, outcomes, expect, fast in _audio_rows():
        for stage in AUDIO_STAGES:
            outcome = outcomes[stage]
            # fast inputs run fast on load_audio; a few CLI runs (a subprocess each) join the default run
            quick = fast and (stage == "audio" or FAST_CLI.get(case_id) == stage)
            out.append(
                Case(f"{stage}-{case_id}", stage, make, outcome, expect if outcome != A else "", quick)
            )
    return out


GOOD = ["a.wav|spk|zh|你好。", "b.wav|spk|en|Hello there."]
_LIST_ROWS = [
    ("ok", c.listfile(GOOD), A, "", True),
    ("three_fields", c.listfile(["a.wav|spk|zh"]), R, "line 1", True),
    ("five_fields", c.listfile(["a.wav|spk|zh|你好|多余"]), R, "line 1", False),
    ("six_fields", c.listfile(["a.wav|spk|zh|a|b|c"]), R, "line 1", False),
    ("unknown_lang", c.listfile(["a.wav|spk|xx|你好。"]), R, "unknown language", True),
    ("missing_audio", c.listfile(["gone.wav|spk|zh|你好。"]), R, "not found", True),
    ("relative", c.listfile(["a.wav|spk|zh|你好。"]), A, "", False),
    ("absolute", c.listfile(["{dir}/a.wav|spk|zh|你好。"]), A, "", False),
    ("windows_path", c.listfile(["C:\\data\\a.wav|spk|zh|你好。"]), R, "not found", True),
    ("duplicates", c.listfile(GOOD + GOOD), A, "", False),
    ("bom", c.listfile(GOOD, encoding="utf-8-sig"), A, "", True),
    ("gbk", c.listfile(GOOD, encoding="gbk"), R, "UTF-8", True),
    ("crlf", c.listfile(GOOD, newline="\r\n"), A, "", True),
    ("no_final_newline", c.listfile(GOOD, final_newline=False), A, "", False),
    ("pipe_in_text", c.listfile(["a.wav|spk|en|a | b"]), R, "'|'", False),
    ("binary", c.binary_list, R, "UTF-8", True),
    ("empty", c.listfile([], final_newline=False), R, "empty", False),
    ("lines_100k", c.huge_list(100_000), A, "", False),
]

_CKPT_ROWS = [
    ("empty", c.raw_ckpt(b""), R, "too short", True),
    ("random", c.garbage("model.pth", 5000), R, "header", True),
    ("truncated_zip", c.truncated_zip, R, "corrupt", True),
    ("non_torch_zip", c.non_torch_zip, R, "not a torch", False),
    ("not_a_dict", c.raw_ckpt(lambda: c.torch_zip([1, 2, 3])), R, "expected a dict", False),
    ("no_weight", c.raw_ckpt(lambda: c.torch_zip({"config": {}})), R, "weight", False),
    ("os_system", c.malicious("system"), F, "refused", True),
    ("builtins_exec", c.malicious("exec"), F, "refused", True),
    ("dotted_global", c.malicious("dotted"), F, "refused", False),
    ("eval_in_weight", c.malicious("eval_weight"), F, "refused", False),
    ("legacy_format", c.malicious("legacy"), F, "", True),
    ("header05_payload", c.malicious("system", b"05"), F, "refused", True),
    ("header04_payload", c.malicious("exec", b"04"), F, "refused", False),
    ("header05_legacy", c.malicious("legacy", b"05"), F, "", False),
]  # fmt: skip


def _ckpt_cases() -> list[Case]:
    out = []
    for case_id, make, outcome, expect, fast in _CKPT_ROWS:
        for stage in ("sovits", "gpt"):
            out.append(Case(f"{stage}-{case_id}", stage, make, outcome, expect, fast and stage == "sovits"))
    return out


# prepare.text (the formatting stage that reads a .list) as a subprocess with a tiny BERT
PREP_TEXTS = ["你好。", "今天天气很好。", "Hello there."]
_PREP_ROWS = [
    ("ok", c.listfile(["a.wav|spk|zh|你好。", "b.wav|spk|en|Hello there."]), A, "", False),
    ("emoji_line", c.listfile(["a.wav|spk|zh|你好。", "b.wav|spk|zh|😀😀"]), S, "list:2", True),
    ("wrong_lang_line", c.listfile(["a.wav|spk|zh|今天天气很好。", "b.wav|spk|en|你好"]), S, "list:2", False),
    ("unknown_lang", c.listfile(["a.wav|spk|zh|你好。", "b.wav|spk|xx|你好"]), R, "line 2", False),
    ("gbk", c.listfile(["a.wav|spk|zh|你好。"], encoding="gbk"), R, "UTF-8", False),
    ("crlf_bom", c.listfile(["a.wav|spk|zh|你好。"], encoding="utf-8-sig", newline="\r\n"), A, "", False),
]

_MODEL_CASES = [
    Case("sovits-wrong_kind", "sovits", c.golden_model("gpt"), R, "expected SoVITS", True),
    Case("gpt-wrong_kind", "gpt", c.golden_model("sovits"), R, "expected GPT", False),
    Case("gpt_model-ok", "gpt_model", c.golden_model("gpt"), A, "", False),
    Case(
        "gpt_model-missing_key", "gpt_model", c.golden_model("gpt", "drop", "drop.ckpt"), R, "missing", True
    ),
    Case("gpt_model-wrong_shape", "gpt_model", c.golden_model("gpt", "shape", "shape.ckpt"), R, "size", True),
    Case(
        "sovits_model-missing_key", "sovits_model", c.golden_model("sovits", "drop", "drop.pth"), R, "missing"
    ),
    Case(
        "sovits_model-wrong_shape", "sovits_model", c.golden_model("sovits", "shape", "shape.pth"), R, "shape"
    ),
]

_TEXT_ROWS = [
    ("zh_ok", "你好，世界。", "zh", A, "", True),
    ("en_ok", "Hello, world.", "en", A, "", False),
    ("empty", "", "zh", R, "nothing to speak", True),
    ("whitespace", " \n\t ", "en", R, "nothing to speak", False),
    ("punctuation", "。，！？", "zh", A, "", False),
    ("emoji_only", "😀🎤🔥", "zh", R, "nothing to speak", True),
    ("emoji_mixed", "你好😀世界", "zh", A, "", False),
    ("control_chars", "hello\x00\x07\x1b[31m world", "en", A, "", True),
    ("long_20k", "你好世界。" * 4000, "zh", A, "", False),
    ("en_in_zh_mode", "hello world", "zh", A, "", True),  # zh mode reads Latin words as English (official)
    ("zh_in_en_mode", "你好世界", "en", R, "nothing to speak", False),
    ("sql", "'; DROP TABLE users; --", "en", A, "", False),
    ("shell", "$(rm -rf /) `touch x` && echo", "en", A, "", True),
    ("template", "{{7*7}} ${HOME} %s %n", "en", A, "", False),
    ("broken_override", "你好{{ni3", "zh", A, "", False),
    ("unknown_language", "hello", "klingon", R, "klingon", True),
]


def _text_cases() -> list[Case]:
    return [
        Case(f"text-{cid}", "text", None, outcome, expect, fast, text, lang)
        for cid, text, lang, outcome, expect, fast in _TEXT_ROWS
    ]


CASES: list[Case] = [
    *_audio_cases(),
    *(Case(f"listfile-{cid}", "listfile", make, o, e, f) for cid, make, o, e, f in _LIST_ROWS),
    *_ckpt_cases(),
    *_MODEL_CASES,
    *(Case(f"prepare_text-{cid}", "prepare_text", make, o, e, f) for cid, make, o, e, f in _PREP_ROWS),
    *_text_cases(),
]
