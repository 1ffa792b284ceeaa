"""Formatting stage 1: phones, word2ph and normalised text -> 2-name2text.txt; BERT features -> 3-bert/.

``python -m GPT_SoVITS.prepare.text --exp logs/<exp> --list x.list [--bert DIR] [--part i/n]``

As the official 1-get-text.py: ``%`` becomes ``-`` and ``￥`` becomes ``,`` before G2P; BERT features are
written only for Chinese (``zh``) items. Resumable: BERT features of items whose phones and normalised
text equal those already in 2-name2text.txt (or this part's file) are not recomputed. Items whose text
cannot be converted (a UserError of the frontend or BERT) are recorded in dropped.tsv and reported with
their .list line, the others go on, and the stage exits 1 at the end; any other exception is a bug.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from GPT_SoVITS import paths
from GPT_SoVITS.data.experiment import (
    Experiment,
    TextRecord,
    item_name,
    read_name2text,
    write_name2text,
)
from GPT_SoVITS.data.validate import BERT_LANGUAGES
from GPT_SoVITS.fileio import atomic_torch_save
from GPT_SoVITS.listfile import ListEntry, parse_list
from GPT_SoVITS.prepare.common import final_report, load_entries, merge_parts, prepare_main, prepare_parser
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.stage import ITEM_ERRORS, StageError, resolve_device_args

log = logging.getLogger(__name__)
STAGE = "prepare.text"


def official_text(text: str) -> str:
    """The replacements 1-get-text.py applies before G2P."""
    return text.replace("%", "-").replace("￥", ",")


def convert(entry: ListEntry, version: str) -> TextRecord:
    from GPT_SoVITS.text.frontend import FrontendError, text_to_phones

    phones, word2ph, norm = text_to_phones(official_text(entry.text), entry.language, version)
    if not phones:  # only emoji/symbols, or another language than the line's: nothing to train on
        raise FrontendError(f"no phonemes in {entry.text[:50]!r} read as {entry.language}")
    w2p = None if word2ph is None else tuple(int(w) for w in word2ph)
    return TextRecord(item_name(entry.path), tuple(phones), w2p, norm)


class _Bert:
    """Loads the BERT extractor on first use (English-only data never needs it)."""

    def __init__(self, model_dir: Path, device: torch.device, dtype: torch.dtype) -> None:
        self.model_dir, self.device, self.dtype = model_dir, device, dtype
        self.extractor = None

    def _extractor(self):
        if self.extractor is None:
            if not self.model_dir.is_dir():
                raise StageError(
                    f"--bert {self.model_dir}: folder not found (needed for Chinese items)", field="--bert"
                )
            from GPT_SoVITS.features.bert import BertError, BertFeatureExtractor

            try:
                self.extractor = BertFeatureExtractor(self.model_dir, device=self.device, dtype=self.dtype)
            except BertError as e:  # the folder, not an item: stop the stage
                raise StageError(str(e), field="--bert") from e
        return self.extractor

    def features(self, rec: TextRecord) -> torch.Tensor:
        return self.features_many([rec])[0]

    def features_many(self, recs: list[TextRecord]) -> list[torch.Tensor]:
        """BERT features of several items in one batched pass (much faster than one by one on CPU)."""
        extractor = self._extractor()
        for rec in recs:
            if rec.word2ph is None:
                raise ValueError(f"{rec.name}: the frontend gave no word2ph for a Chinese item")
        feats = extractor.features_many([(rec.norm_text, list(rec.word2ph)) for rec in recs])
        out = []
        for rec, feat in zip(recs, feats, strict=True):
            if feat.shape[-1] != len(rec.phones):
                raise ValueError(
                    f"{rec.name}: BERT gave {feat.shape[-1]} columns for {len(rec.phones)} phones"
                )
            out.append(feat.float().cpu())
        return out


# Items whose BERT features are computed in one batched pass (and then saved one by one).
BERT_BATCH = 32


def _previous(exp: Experiment, part: int) -> dict[str, TextRecord]:
    done: dict[str, TextRecord] = {}
    for path in (exp.name2text, exp.text_part(part)):
        if path.is_file():
            try:
                done.update(read_name2text(path, strict=False))
            except OSError as e:
                log.warning("%s: unreadable (%s); recomputing", path, e)
    return done


def _save_bert(bert: _Bert, exp: Experiment, todo: list, drop) -> set[str]:
    """Compute and save the BERT features of ``todo`` (k, name, record) in one batched pass; when an item
    of the batch is bad, item by item, so that only the bad items are dropped. Returns the dropped names."""
    if not todo:
        return set()
    try:
        feats = bert.features_many([rec for _, _, rec in todo])
    except StageError:
        raise
    except ITEM_ERRORS:  # a bad item in the batch: find it below
        feats = None
    bad: set[str] = set()
    for j, (_, name, rec) in enumerate(todo):
        try:
            feat = feats[j] if feats is not None else bert.features(rec)
        except StageError:
            raise
        except ITEM_ERRORS as e:
            drop(name, e)
            bad.add(name)
            continue
        atomic_torch_save(feat, exp.bert_path(name))
    return bad


def _convert_all(mine, version: str, bert: _Bert, exp: Experiment, done: dict, drop, progress) -> list:
    """Records of the items that convert, in list order; BERT features saved chunk by chunk."""
    records: list[TextRecord] = []
    for start in range(0, len(mine), BERT_BATCH):
        converted: list[tuple[int, str, TextRecord]] = []
        for k, entry in enumerate(mine[start : start + BERT_BATCH], start=start + 1):
            name = item_name(entry.path)
            try:
                # G2P is cheap and always rerun (an edited transcript must not keep stale phones)
                converted.append((k, name, convert(entry, version)))
            except ITEM_ERRORS as e:  # the transcript cannot be converted; a bug propagates
                drop(name, e)
        # the BERT features, the expensive part, are kept when the item's phones and text did not change
        todo = [
            (k, name, rec)
            for k, name, rec in converted
            if mine[k - 1].language in BERT_LANGUAGES
            and (done.get(name) != rec or not exp.bert_path(name).is_file())
        ]
        bad = _save_bert(bert, exp, todo, drop)
        for k, name, rec in converted:
            if name not in bad:
                records.append(rec)
                progress.write("item", done=k, total=len(mine), name=name)
    return records


class _Dropper:
    """Reports an unusable transcript: stderr (with its .list line), dropped.tsv, progress."""

    def __init__(self, exp: Experiment, list_path: Path, progress: ProgressLog) -> None:
        self.exp, self.list_path, self.progress = exp, list_path, progress
        self.lines = {item_name(ln.entry.path): ln.line_no for ln in parse_list(list_path, False) if ln.entry}
        self.count = 0

    def __call__(self, name: str, e: Exception) -> None:
        self.count += 1
        reason = f"{type(e).__name__}: {e}"
        where = f"{self.list_path}:{self.lines.get(name, '?')}"
        print(f"skip {where} ({name}): {reason}", file=sys.stderr, flush=True)
        self.exp.add_dropped(name, "text", reason)
        self.progress.write("skip", name=name, line=self.lines.get(name), reason=reason)


def _merge_text(exp: Experiment, entries: list[ListEntry], n: int) -> str:
    """Merge the part files once all ``n`` exist; the summary's tail."""

    def merge(parts: list[Path]) -> None:
        merged: dict[str, TextRecord] = {}
        for p in parts:
            merged.update(read_name2text(p))
        order = [item_name(e.path) for e in entries]
        write_name2text(exp.name2text, [merged[nm] for nm in order if nm in merged])

    if not merge_parts(exp, n, exp.text_part, merge):
        return "waiting for the other parts before merging"
    report = final_report(exp, "text", entries)
    if report.mismatched:
        raise StageError(report.first_problem())
    return f"{paths.NAME2TEXT} has {report.counts.get('name2text', 0)} item(s)"


def process(args: argparse.Namespace, progress: ProgressLog) -> tuple[str, bool]:
    exp = Experiment(args.exp)
    entries = load_entries(args.list, args.audio_root)
    assert entries is not None
    i, n = args.part
    mine = entries[i::n]
    bert = _Bert(args.bert, *resolve_device_args(args))
    done = _previous(exp, i)
    exp.bert_dir.mkdir(parents=True, exist_ok=True)
    progress.write("start", stage=STAGE, total=len(mine), part=f"{i}/{n}")
    drop = _Dropper(exp, args.list, progress)
    records = _convert_all(mine, args.version, bert, exp, done, drop, progress)
    write_name2text(exp.text_part(i), records)
    tail = _merge_text(exp, entries, n)
    if records == [] and drop.count:
        raise StageError(f"{STAGE}: every item failed (first: see {exp.dropped_file})")
    summary = f"{STAGE}: part {i}/{n}: {len(records)} item(s) written, {drop.count} failed; {tail}"
    return summary, drop.count == 0


def build_parser() -> argparse.ArgumentParser:
    p = prepare_parser("GPT_SoVITS.prepare.text", __doc__)
    p.add_argument(
        "--bert", type=Path, default=paths.DEFAULT_BERT_DIR, help="chinese-roberta-wwm-ext-large folder"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    return prepare_main(STAGE, build_parser(), process, argv)


if __name__ == "__main__":
    raise SystemExit(main())
