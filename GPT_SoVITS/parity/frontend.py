"""Parity group ``frontend``: normalisation + G2P + ids against ``text_frontend.json``.

Each ``<lang>|<version>`` entry holds the official ``clean_text`` results (phones, word2ph, norm_text) and
``cleaned_text_to_sequence`` ids for a few sentences; every field must match exactly. The entry's
``module`` line says which official path was recorded (zh v2 without G2PW, en without nltk tags, ja with
the NAIST dictionary); our frontend runs the same path.
"""

from __future__ import annotations

import json
from pathlib import Path

from GPT_SoVITS.parity.core import CaseResult, compare_exact
from GPT_SoVITS.text.frontend import phones_to_ids, text_to_phones

GROUP = "frontend"
FIELDS = ("phones", "word2ph", "norm_text", "ids")


def _compare(name: str, item: dict, language: str, version: str) -> CaseResult:
    try:
        # the goldens record the pypinyin path (no G2PW model offline), so G2PW stays off here
        phones, word2ph, norm_text = text_to_phones(item["text"], language, version, use_g2pw=False)
        ours = {
            "phones": phones,
            "word2ph": word2ph,
            "norm_text": norm_text,
            "ids": phones_to_ids(phones, version),
        }
    except Exception as e:  # a crash is a failed row with its reason
        return compare_exact(GROUP, name, {"error": f"{type(e).__name__}: {e}"}, "golden result")
    wrong = [f for f in FIELDS if f in item and ours[f] != item[f]]
    if not wrong:
        return compare_exact(GROUP, name, 0, 0)
    first = wrong[0]
    note = f"{','.join(wrong)} differ; {first}: ours={ours[first]!r:.100} golden={item[first]!r:.100}"
    return CaseResult(GROUP, name, float(len(wrong)), 0.0, False, note)


def run(golden: Path, group: str = GROUP) -> list[CaseResult]:
    data = json.loads((Path(golden) / "text_frontend.json").read_text(encoding="utf-8"))
    results = []
    for key, entry in data.items():
        language, version = key.split("|")
        for i, item in enumerate(entry["items"]):
            results.append(_compare(f"{key}[{i}]", item, language, version))
    return results
