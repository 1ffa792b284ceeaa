"""Formatting stages as subprocesses: bad input refused early, parts, resume, the peak filter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from GPT_SoVITS.data.experiment import Experiment, read_name2semantic, read_name2text
from GPT_SoVITS.listfile import ListEntry, write_list
from GPT_SoVITS.progress import read_progress
from tests.train.synth import clip, run_module


def _list(folder: Path, lines: list[str]) -> Path:
    path = folder / "x.list"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "the list is empty"),
        (["wavs/none.wav|spk|EN|hello"], "audio file not found: wavs/none.wav"),
        (["wavs/a.wav|spk|XX|hello"], "unknown language code 'XX'"),
    ],
)
@pytest.mark.parametrize("module", ["GPT_SoVITS.prepare.text", "GPT_SoVITS.prepare.hubert"])
def test_bad_list_is_refused_before_any_model_loads(tmp_path: Path, lines, message, module) -> None:
    (tmp_path / "wavs").mkdir()
    sf.write(tmp_path / "wavs" / "a.wav", clip(1.0, 120), 32000)
    exp = tmp_path / "exp"
    # model folders that do not exist: the list must be refused before they are looked at
    flag = "--bert" if module.endswith("text") else "--hubert"
    r = run_module(
        module, "--exp", exp, "--list", _list(tmp_path, lines), flag, tmp_path / "nope", "--device", "cpu"
    )
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "x.list" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert read_progress(exp)[-1]["ok"] is False


def test_part_flag_is_validated(tmp_path: Path) -> None:
    r = run_module(
        "GPT_SoVITS.prepare.text", "--exp", tmp_path, "--list", tmp_path / "x.list", "--part", "2/2"
    )
    assert r.returncode == 2 and "--part" in r.stderr


@pytest.mark.slow
def test_stages_in_parts_resume_and_drop_loud_clips(speech, tiny_models, tmp_path: Path) -> None:
    list_path, entries = speech
    folder = list_path.parent
    # a clip louder than the official limit (peak > 2.2 after decoding) is dropped by the hubert stage
    loud = folder / "wavs" / "loud.wav"
    sf.write(loud, np.clip(clip(1.2, 150) * 6.0, -3, 3).astype(np.float32), 32000, subtype="FLOAT")
    small = [*entries[:3], *entries[-3:], ListEntry("wavs/loud.wav", "spk", "EN", "It is loud.")]
    lp = folder / "small.list"
    write_list(lp, small)
    exp = Experiment(tmp_path / "exp")
    common = ["--exp", exp.root, "--list", lp, "--device", "cpu"]
    for part in ("0/2", "1/2"):
        r = run_module("GPT_SoVITS.prepare.text", *common, "--bert", tiny_models["bert"], "--part", part)
        assert r.returncode == 0, r.stderr
    assert "waiting for the other parts" not in r.stdout  # the second part merged both
    text = read_name2text(exp.name2text)
    assert list(text) == [Path(e.path).name for e in small]  # list order kept across parts
    assert not exp.text_part(0).exists() and not exp.text_part(1).exists()
    assert sorted(exp.bert_names()) == ["zh_00.wav", "zh_01.wav", "zh_02.wav"]
    for name in exp.bert_names():
        assert torch.load(exp.bert_path(name)).shape == (1024, len(text[name].phones))
    # rerun: unchanged items keep their BERT files; an edited transcript gets new phones and features
    stamp = {n: exp.bert_path(n).stat().st_mtime_ns for n in exp.bert_names()}
    edited = [
        ListEntry(e.path, e.speaker, e.lang, "你好。") if e.path.endswith("zh_01.wav") else e for e in small
    ]
    write_list(lp, edited)
    r = run_module("GPT_SoVITS.prepare.text", *common, "--bert", tiny_models["bert"])
    assert r.returncode == 0, r.stderr
    assert exp.bert_path("zh_00.wav").stat().st_mtime_ns == stamp["zh_00.wav"]
    assert exp.bert_path("zh_01.wav").stat().st_mtime_ns != stamp["zh_01.wav"]
    assert read_name2text(exp.name2text)["zh_01.wav"].norm_text == "你好."
    assert torch.load(exp.bert_path("zh_01.wav")).shape == (
        1024,
        len(read_name2text(exp.name2text)["zh_01.wav"].phones),
    )
    r = run_module("GPT_SoVITS.prepare.hubert", *common, "--hubert", tiny_models["hubert"])
    assert r.returncode == 0, r.stderr
    assert "loud.wav: dropped: peak" in r.stdout and "1 dropped" in r.stdout
    assert exp.read_dropped()["loud.wav"][0] == "hubert"
    assert "loud.wav" not in exp.hubert_names() and len(exp.hubert_names()) == 6
    wav, sr = sf.read(exp.wav_path("zh_00.wav"), dtype="int16")
    assert sr == 32000 and wav.dtype == np.int16
    ssl = torch.load(exp.hubert_path("zh_00.wav"))
    assert ssl.shape[:2] == (1, 768) and abs(ssl.shape[2] - len(wav) / 640) < 2  # 50 Hz features
    # resumable: a second run does nothing new and leaves the files alone
    mtime = exp.hubert_path("zh_00.wav").stat().st_mtime_ns
    r = run_module("GPT_SoVITS.prepare.hubert", *common, "--hubert", tiny_models["hubert"])
    assert r.returncode == 0 and "0 clip(s) processed, 6 already done" in r.stdout
    assert exp.hubert_path("zh_00.wav").stat().st_mtime_ns == mtime
    r = run_module("GPT_SoVITS.prepare.semantic", *common, "--pretrained-sovits", tiny_models["sovits"])
    assert r.returncode == 0, r.stderr
    codes = read_name2semantic(exp.name2semantic)
    assert sorted(codes) == sorted(exp.hubert_names())
    assert exp.name2semantic.read_text(encoding="utf-8").startswith("item_name\tsemantic_audio\n")
    assert all(len(c) == torch.load(exp.hubert_path(n)).shape[2] // 2 for n, c in codes.items())


def test_bert_batch_with_a_bad_item_saves_the_others_and_drops_only_it(tmp_path, tiny_models) -> None:
    from GPT_SoVITS.data.experiment import TextRecord
    from GPT_SoVITS.prepare.text import _Bert, _save_bert

    exp = Experiment(tmp_path / "exp")
    exp.bert_dir.mkdir(parents=True)
    bert = _Bert(tiny_models["bert"], torch.device("cpu"), torch.float32)
    good = [
        TextRecord(f"a{i}.wav", ("n", "i3", "h", "ao3")[: 2 * n], (2,) * n, "你好"[:n])
        for i, n in ((0, 2), (1, 1))
    ]
    bad = TextRecord("b.wav", ("n", "i3"), (2, 2), "你")  # word2ph names two characters for one
    dropped: list[str] = []
    todo = [(1, good[0].name, good[0]), (2, bad.name, bad), (3, good[1].name, good[1])]
    assert _save_bert(bert, exp, todo, lambda name, e: dropped.append(f"{name}: {e}")) == {"b.wav"}
    assert len(dropped) == 1 and dropped[0].startswith("b.wav: word2ph has 2 entries")
    for rec in good:
        saved = torch.load(exp.bert_path(rec.name))
        torch.testing.assert_close(saved, bert.features(rec))  # the one-by-one result
        assert saved.shape == (1024, len(rec.phones))
    assert not exp.bert_path("b.wav").exists()
    batched = bert.features_many(good)  # the batched pass gives the same features
    for a, rec in zip(batched, good, strict=True):
        torch.testing.assert_close(a, bert.features(rec), atol=1e-5, rtol=1e-5)


def test_a_transcript_that_cannot_be_converted_is_dropped_named_by_line_and_exits_1(tmp_path: Path) -> None:
    from GPT_SoVITS.text.frontend import MAX_TEXT_CHARS

    (tmp_path / "wavs").mkdir()
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / "wavs" / name, clip(1.0, 120), 32000)
    too_long = "word " * (MAX_TEXT_CHARS // 4)
    lst = _list(tmp_path, ["wavs/a.wav|spk|EN|Hello there.", f"wavs/b.wav|spk|EN|{too_long}"])
    exp = Experiment(tmp_path / "exp")
    # English only: the BERT folder is never needed, so a missing one must not matter
    r = run_module("GPT_SoVITS.prepare.text", "--exp", exp.root, "--list", lst, "--bert", tmp_path / "nope")
    assert r.returncode == 1, r.stderr
    assert f"{lst}:2 (b.wav)" in r.stderr and "FrontendError" in r.stderr
    assert list(read_name2text(exp.name2text)) == ["a.wav"]  # the good item is written all the same
    assert exp.read_dropped()["b.wav"][0] == "text"
    events = read_progress(exp.root)
    assert [e["line"] for e in events if e["event"] == "skip"] == [2]
    assert events[-1]["event"] == "end" and events[-1]["ok"] is False and "1 failed" in events[-1]["message"]
