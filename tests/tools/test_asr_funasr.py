"""tools.asr --backend funasr: the plumbing, with a tiny random Paraformer in FunASR's folder layout."""

from __future__ import annotations

import pytest

from GPT_SoVITS.listfile import read_entries
from tests.tools.conftest import PARAFORMER_CHARS, espeak, progress_events, run_cli


@pytest.mark.slow
def test_funasr_backend_labels_a_folder(tiny_paraformer, tmp_path):
    clips = tmp_path / "voice"
    espeak("我是一个学生。", "cmn-latn-pinyin", clips / "a.wav")
    espeak("这是我的朋友。", "cmn-latn-pinyin", clips / "b.wav")
    (clips / "broken.wav").write_text("not audio")
    out = tmp_path / "asr"
    args = ["--backend", "funasr", "--model", tiny_paraformer, "--language", "zh", "--device", "cpu"]
    proc = run_cli("tools.asr", "--input", clips, "--output", out, *args)
    assert proc.returncode == 1, proc.stderr  # broken.wav is skipped, the rest labelled
    assert "broken.wav" in proc.stderr
    entries = read_entries(out / "voice.list")
    assert sorted(e.name for e in entries) == ["a.wav", "b.wav"]
    for entry in entries:
        assert entry.lang == "ZH" and entry.speaker == "voice"
        # a random model says random things, but only with its own vocabulary, joined without spaces
        assert entry.text and set(entry.text) <= set(PARAFORMER_CHARS), entry.text
    assert progress_events(out)[-1]["ok"] is False


def test_funasr_missing_model_folder_exits_2(tmp_path):
    espeak("你好", "cmn-latn-pinyin", tmp_path / "in" / "a.wav")
    empty = tmp_path / "not_a_model"
    empty.mkdir()
    args = ["--backend", "funasr", "--model", empty, "--language", "zh"]
    proc = run_cli("tools.asr", "--input", tmp_path / "in", "--output", tmp_path / "o", *args)
    assert proc.returncode == 2
    assert "config.yaml" in proc.stderr and str(empty) in proc.stderr
