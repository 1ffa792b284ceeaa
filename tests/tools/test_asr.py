"""tools.asr end to end with the real faster-whisper base model on espeak-ng speech."""

from __future__ import annotations

import re
import shutil

import pytest

from GPT_SoVITS.listfile import read_entries
from tests.tools.conftest import espeak, progress_events, run_cli

EN = {
    "en1.wav": "The quick brown fox jumps over the lazy dog near the river bank.",
    "en2.wav": "Please remember to bring your umbrella when it starts to rain.",
    "en3.wav": "The train to the city leaves at half past seven in the morning.",
}
# espeak-ng's Mandarin is rough; whisper base recognises these sentences from it (others it garbles).
ZH = {
    "zh1.wav": "我是一个学生。",
    "zh2.wav": "我们一起去公园散步吧。",
    "zh3.wav": "这是我的朋友。",
}


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[:], i
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
    return row[-1]


def normalize(text: str) -> str:
    """Lower case, no punctuation or spaces: CER counts characters that carry words."""
    return re.sub(r"[\W_]+", "", text.lower())


def cer(pairs: list[tuple[str, str]]) -> float:
    """Corpus character error rate: total edits over total reference characters."""
    edits = sum(edit_distance(normalize(ref), normalize(hyp)) for ref, hyp in pairs)
    return edits / sum(len(normalize(ref)) for ref, _ in pairs)


def _speak_folder(folder, texts, voice):
    for name, text in texts.items():
        espeak(text, voice, folder / name)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "texts", "voice"), [("en", EN, "en-us"), ("zh", ZH, "cmn-latn-pinyin")])
def test_transcribes_with_low_cer(whisper_base, tmp_path, lang, texts, voice):
    clips = _speak_folder(tmp_path / f"speaker_{lang}", texts, voice)
    out = tmp_path / "asr"
    args = ["--input", clips, "--output", out, "--model", whisper_base, "--language", lang]
    proc = run_cli("tools.asr", *args, "--precision", "int8", "--threads", "2")
    assert proc.returncode == 0, proc.stderr
    entries = read_entries(out / f"speaker_{lang}.list")  # validates 4 fields, language, audio exists
    assert len(entries) == len(texts)
    pairs = []
    for entry in entries:
        assert entry.speaker == f"speaker_{lang}" and entry.lang == lang.upper()
        assert entry.path.startswith("/")
        pairs.append((texts[entry.name], entry.text))
    rate = cer(pairs)
    print(f"CER {lang}: {rate:.3f} over {len(pairs)} clips: {pairs}")
    assert rate < 0.30, pairs


@pytest.mark.slow
def test_auto_language_and_bad_files_are_skipped(whisper_base, tmp_path):
    clips = tmp_path / "mixed"
    espeak(EN["en1.wav"], "en-us", clips / "good.wav")
    shutil.copy(clips / "good.wav", clips / "名字 with space.wav")
    shutil.copy(clips / "good.wav", clips / "pipe|name.wav")
    (clips / "empty.wav").write_bytes(b"")
    (clips / "notaudio.wav").write_text("this is not audio\n")
    (clips / "notes.txt").write_text("ignored: not an audio extension\n")
    out = tmp_path / "asr"
    args = ["--input", clips, "--output", out, "--model", whisper_base, "--language", "auto"]
    proc = run_cli("tools.asr", *args, "--threads", "2", "--speaker", "alice")
    assert proc.returncode == 1, proc.stderr
    for bad in ("empty.wav", "notaudio.wav", "pipe|name.wav"):
        assert bad in proc.stderr
    entries = read_entries(out / "mixed.list")
    assert sorted(e.name for e in entries) == ["good.wav", "名字 with space.wav"]
    assert {e.lang for e in entries} == {"EN"}  # detected, never AUTO
    assert {e.speaker for e in entries} == {"alice"}
    skips = {e["name"].rsplit("/", 1)[-1]: e["reason"] for e in progress_events(out) if e["event"] == "skip"}
    assert set(skips) == {"empty.wav", "notaudio.wav", "pipe|name.wav"}
    assert "empty" in skips["empty.wav"] and "|" in skips["pipe|name.wav"]


def test_missing_model_folder_exits_2(tmp_path):
    espeak("hello", "en-us", tmp_path / "in" / "a.wav")
    missing = tmp_path / "no_such_model"
    proc = run_cli("tools.asr", "--input", tmp_path / "in", "--output", tmp_path / "o", "--model", missing)
    assert proc.returncode == 2
    assert str(missing) in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
