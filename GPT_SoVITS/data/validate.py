"""Experiment validation: counts per stage, items missing where, phone/BERT length mismatches.

Every prepare stage prints this report when it ends; both trainers call :func:`require_consistent` before
building a model, so an inconsistent folder fails at once with the item names instead of a
``ZeroDivisionError`` an hour later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from GPT_SoVITS.data.experiment import Experiment, ExperimentError, TextRecord, item_name

log = logging.getLogger(__name__)

# For each consumer: the locations every expected item must be present in.
REQUIRED: dict[str, tuple[str, ...]] = {
    "text": ("name2text", "bert"),
    "hubert": ("hubert", "wav32k"),
    "semantic": ("semantic",),
    "sovits": ("name2text", "hubert", "wav32k"),
    "gpt": ("name2text", "semantic", "bert"),
}
# Languages whose items get BERT features (the official 1-get-text writes 3-bert/ only for "zh").
BERT_LANGUAGES = frozenset({"zh"})
MAX_LISTED = 20  # names shown per problem line


@dataclass
class ValidationReport:
    exp: Path
    stage: str
    counts: dict[str, int] = field(default_factory=dict)  # location -> number of items there
    missing: dict[str, list[str]] = field(default_factory=dict)  # location -> expected names absent
    mismatched: list[str] = field(default_factory=list)  # "name: N phones but 3-bert has M columns"
    dropped: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (stage, reason)
    errors: list[str] = field(default_factory=list)  # whole-file problems
    usable: int = 0  # items every required location has

    @property
    def ok(self) -> bool:
        return not self.errors and not self.mismatched and not any(self.missing.values()) and self.usable > 0

    def problems(self) -> list[str]:
        out = list(self.errors)
        for where, names in self.missing.items():
            if names:
                shown = ", ".join(sorted(names)[:MAX_LISTED])
                more = f" (+{len(names) - MAX_LISTED} more)" if len(names) > MAX_LISTED else ""
                out.append(f"{len(names)} item(s) missing in {where}: {shown}{more}")
        out.extend(f"mismatched phone/BERT length: {m}" for m in self.mismatched[:MAX_LISTED])
        if self.usable == 0 and not self.errors:
            out.append(f"no usable item for {self.stage}")
        return out

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        lines = [f"experiment {self.exp} ({self.stage}): {counts}; usable {self.usable}"]
        lines += [f"  dropped {n}: {s} ({r})" for n, (s, r) in sorted(self.dropped.items())]
        lines += [f"  problem: {p}" for p in self.problems()]
        return "\n".join(lines)

    def first_problem(self) -> str:
        probs = self.problems()
        return probs[0] if probs else ""


def _bert_columns(path: Path) -> int | None:
    try:
        t = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # any unreadable file is reported, not raised
        log.warning("%s: unreadable (%s)", path, e)
        return None
    return int(t.shape[-1]) if isinstance(t, torch.Tensor) else None


def _present_items(
    exp: Experiment, report: ValidationReport
) -> tuple[dict[str, TextRecord], dict[str, set[str]]]:
    """The name2text records and, per location, the item names the earlier stages wrote."""
    text: dict[str, TextRecord] = {}
    semantic: dict[str, list[int]] = {}
    for path, read, target in (
        (exp.name2text, exp.read_text, text),
        (exp.name2semantic, exp.read_semantic, semantic),
    ):
        if path.is_file():
            try:
                target.update(read())
            except ExperimentError as e:
                report.errors.append(str(e))
    have = {
        "name2text": set(text),
        "bert": exp.bert_names(),
        "hubert": exp.hubert_names(),
        "wav32k": exp.wav_names(),
        "semantic": set(semantic),
    }
    return text, have


def _expected_items(
    stage: str, have: dict[str, set[str]], list_entries: Sequence[object] | None
) -> tuple[list[str], set[str]]:
    """(expected names, names needing BERT); without the .list, what the earlier stages wrote."""
    if list_entries is not None:
        expected = [item_name(e.path) for e in list_entries]  # type: ignore[attr-defined]
        need_bert = {
            item_name(e.path)  # type: ignore[attr-defined]
            for e in list_entries
            if getattr(e, "language", getattr(e, "lang", "")) in BERT_LANGUAGES
        }
        return expected, need_bert
    sources = {"text": "name2text", "hubert": "hubert", "semantic": "hubert"}
    pool = have[sources[stage]] if stage in sources else have["name2text"] | have["semantic"]
    if stage == "sovits":
        pool = have["name2text"] | have["hubert"] | have["wav32k"]
    return sorted(pool), set()  # BERT need unknown without the .list: only present files' shapes are checked


def _count_missing(
    report: ValidationReport, stage: str, expected: list[str], need_bert: set[str], have: dict[str, set[str]]
) -> None:
    """Fill ``report.missing`` per required location and ``report.usable``."""
    required = REQUIRED[stage]
    report.missing.update({where: [] for where in required})
    dropped = set(report.dropped)
    usable = 0
    for name in dict.fromkeys(expected):
        if name in dropped and stage != "text":
            continue
        ok = True
        for where in required:
            needed = name in need_bert if where == "bert" else True
            if needed and name not in have[where]:
                report.missing[where].append(name)
                ok = False
        usable += ok
    report.usable = usable


def _check_bert_shapes(exp: Experiment, report: ValidationReport, text: dict[str, TextRecord], have) -> None:
    for name in sorted(have["bert"] & set(text)):
        cols = _bert_columns(exp.bert_path(name))
        n = len(text[name].phones)
        if cols is None:
            report.mismatched.append(f"{name}: {exp.bert_path(name)} is unreadable")
        elif cols != n:
            report.mismatched.append(f"{name}: {n} phones but {exp.bert_path(name)} has {cols} columns")


def check_experiment(
    exp: Experiment,
    stage: str,
    list_entries: Sequence[object] | None = None,
    check_shapes: bool = True,
) -> ValidationReport:
    """Validate ``exp`` for consumer ``stage`` (a key of ``REQUIRED``).

    ``list_entries`` (``listfile.ListEntry`` objects: ``.path``, ``.lang``) name the expected items and tell
    which need BERT; without them the expected items are what the earlier stages wrote.
    """
    report = ValidationReport(exp.root, stage, dropped=exp.read_dropped())
    text, have = _present_items(exp, report)
    expected, need_bert = _expected_items(stage, have, list_entries)
    if list_entries is not None:
        report.counts["list"] = len(list_entries)
    report.counts.update({k: len(v) for k, v in have.items()})
    report.counts["dropped"] = len(report.dropped)
    _count_missing(report, stage, expected, need_bert, have)
    if check_shapes and "bert" in REQUIRED[stage]:
        _check_bert_shapes(exp, report, text, have)
    return report


def require_consistent(
    exp: Experiment, stage: str, list_entries: Sequence[object] | None = None, allow_missing: bool = False
) -> ValidationReport:
    """Raise ExperimentError naming the missing/mismatched items unless ``exp`` is fit for ``stage``.

    With ``allow_missing`` items absent somewhere are left out (the official behaviour), but mismatched
    lengths and an empty result still fail.
    """
    if not exp.root.is_dir():
        raise ExperimentError(f"{exp.root}: experiment folder does not exist")
    report = check_experiment(exp, stage, list_entries)
    if report.ok:
        return report
    if allow_missing and not report.errors and not report.mismatched and report.usable > 0:
        log.warning("%s", report.summary())
        return report
    raise ExperimentError(f"{exp.root} is not ready for {stage}: " + "; ".join(report.problems()))
