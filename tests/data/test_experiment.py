"""The experiment layout files (official formats) and the validation report."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from GPT_SoVITS.data.experiment import (
    SEMANTIC_HEADER,
    Experiment,
    ExperimentError,
    TextRecord,
    item_name,
    read_name2semantic,
    read_name2text,
    write_name2semantic,
    write_name2text,
)
from GPT_SoVITS.data.validate import check_experiment, require_consistent
from GPT_SoVITS.listfile import ListEntry

# Lines as the official 1-get-text.py writes them: word2ph is Python's list repr, None for English.
OFFICIAL_TEXT = "a.wav\tn i2 h ao3 .\t[2, 2, 1]\t你好.\nb.wav\tHH AH0 L OW1 .\tNone\thello.\n"


def test_name2text_reads_official_lines_and_writes_them_back(tmp_path: Path) -> None:
    path = tmp_path / "2-name2text.txt"
    path.write_text(OFFICIAL_TEXT, encoding="utf-8")
    recs = read_name2text(path)
    assert list(recs) == ["a.wav", "b.wav"]
    assert recs["a.wav"].phones == ("n", "i2", "h", "ao3", ".")
    assert recs["a.wav"].word2ph == (2, 2, 1)
    assert recs["b.wav"].word2ph is None
    out = tmp_path / "copy.txt"
    write_name2text(out, recs.values())
    assert out.read_text(encoding="utf-8") == OFFICIAL_TEXT


def test_name2text_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "2-name2text.txt"
    path.write_text(OFFICIAL_TEXT + "c.wav\tonly two\n", encoding="utf-8")
    with pytest.raises(ExperimentError, match=r"2-name2text\.txt:3: expected 4"):
        read_name2text(path)
    assert list(read_name2text(path, strict=False)) == ["a.wav", "b.wav"]
    path.write_text("a.wav\tx\t[1, oops]\tx\n", encoding="utf-8")
    with pytest.raises(ExperimentError, match="word2ph"):
        read_name2text(path)


def test_name2semantic_header_optional_and_written(tmp_path: Path) -> None:
    part = tmp_path / "6-name2semantic-0.tsv"
    part.write_text("a.wav\t1 2 3\nb.wav\t4 5", encoding="utf-8")  # official part files: no header, no EOL
    assert read_name2semantic(part) == {"a.wav": [1, 2, 3], "b.wav": [4, 5]}
    final = tmp_path / "6-name2semantic.tsv"
    write_name2semantic(final, read_name2semantic(part))
    lines = final.read_text(encoding="utf-8").split("\n")
    assert lines[0] == SEMANTIC_HEADER and lines[1] == "a.wav\t1 2 3" and lines[-1] == ""
    assert read_name2semantic(final) == {"a.wav": [1, 2, 3], "b.wav": [4, 5]}
    final.write_text(SEMANTIC_HEADER + "\na.wav\t1 x\n", encoding="utf-8")
    with pytest.raises(ExperimentError, match=r":2: semantic codes must be integers"):
        read_name2semantic(final)


def test_item_name_is_the_official_basename() -> None:
    assert item_name("/data/voice/a.wav") == "a.wav"
    assert item_name("C:\\voice\\b.wav") == "b.wav"


def _exp(tmp_path: Path, names: list[str], zh: set[str]) -> Experiment:
    exp = Experiment(tmp_path / "exp")
    for d in (exp.bert_dir, exp.hubert_dir, exp.wav_dir):
        d.mkdir(parents=True)
    recs = []
    for name in names:
        phones = ("n", "i2", "h", "ao3")
        recs.append(TextRecord(name, phones, (2, 2) if name in zh else None, "你好"))
        if name in zh:
            torch.save(torch.zeros(1024, len(phones)), exp.bert_path(name))
        torch.save(torch.zeros(1, 768, 10), exp.hubert_path(name))
        exp.wav_path(name).write_bytes(b"RIFF")
    write_name2text(exp.name2text, recs)
    write_name2semantic(exp.name2semantic, {n: [1, 2, 3] for n in names})
    return exp


def test_consistent_experiment_passes_with_counts(tmp_path: Path) -> None:
    exp = _exp(tmp_path, ["a.wav", "b.wav", "c.wav"], {"a.wav"})
    entries = [
        ListEntry(f"/x/{n}", "s", "zh" if n == "a.wav" else "en", "t") for n in ("a.wav", "b.wav", "c.wav")
    ]
    for stage in ("text", "hubert", "semantic", "sovits", "gpt"):
        report = check_experiment(exp, stage, entries)
        assert report.ok, (stage, report.summary())
        assert report.usable == 3
    report = require_consistent(exp, "gpt")
    assert report.counts == {
        "name2text": 3, "bert": 1, "hubert": 3, "wav32k": 3, "semantic": 3, "dropped": 0,
    }  # fmt: skip


def test_feature_folder_missing_items_are_named(tmp_path: Path) -> None:
    exp = _exp(tmp_path, ["a.wav", "b.wav", "c.wav"], {"a.wav"})
    exp.hubert_path("b.wav").unlink()
    with pytest.raises(ExperimentError, match=r"1 item\(s\) missing in hubert: b\.wav"):
        require_consistent(exp, "sovits")
    # the official behaviour (train on what is complete) only when asked
    assert require_consistent(exp, "sovits", allow_missing=True).usable == 2
    # an item the hubert stage dropped on purpose is not "missing"
    exp.add_dropped("b.wav", "hubert", "peak 3.1 > 2.2")
    report = require_consistent(exp, "sovits")
    assert report.usable == 2 and report.dropped == {"b.wav": ("hubert", "peak 3.1 > 2.2")}
    # a Chinese item without its BERT file is missing for the GPT when the .list says it is Chinese
    exp.bert_path("a.wav").unlink()
    entries = [ListEntry("a.wav", "s", "ZH", "t"), ListEntry("c.wav", "s", "EN", "t")]
    with pytest.raises(ExperimentError, match=r"missing in bert: a\.wav"):
        require_consistent(exp, "gpt", entries)


def test_mismatched_phone_and_bert_lengths(tmp_path: Path) -> None:
    exp = _exp(tmp_path, ["a.wav", "b.wav"], {"a.wav", "b.wav"})
    torch.save(torch.zeros(1024, 7), exp.bert_path("b.wav"))
    report = check_experiment(exp, "gpt")
    assert not report.ok
    assert report.mismatched == [f"b.wav: 4 phones but {exp.bert_path('b.wav')} has 7 columns"]
    with pytest.raises(ExperimentError, match=r"mismatched phone/BERT length: b\.wav: 4 phones"):
        require_consistent(exp, "gpt", allow_missing=True)


def test_missing_files_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ExperimentError, match="does not exist"):
        require_consistent(Experiment(tmp_path / "nope"), "sovits")
    exp = Experiment(tmp_path / "empty")
    exp.root.mkdir()
    with pytest.raises(ExperimentError, match="no usable item for gpt"):
        require_consistent(exp, "gpt")
    with pytest.raises(ExperimentError, match=r"2-name2text\.txt: missing"):
        exp.read_text()
