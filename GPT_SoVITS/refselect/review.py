"""Review of a task's results: sort, filter, score 1-5, and save a chosen combination as a voice preset.

A score is one UPDATE of one row: two writers (two browser tabs) never corrupt or lose anything but the
earlier of two scores of the same result (last write wins), and each write records when it happened.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from GPT_SoVITS.presets import NOT_KNOBS, Preset, PresetStore
from GPT_SoVITS.refselect.db import Library, LibraryError, now
from GPT_SoVITS.refselect.render import REQUEST_FIELDS

SORTS = ("outlier", "duration", "score", "id")  # besides any parameter name (temperature, clip_id...)


def results(
    lib: Library,
    task_id: int,
    sort: str = "outlier",
    descending: bool = False,
    min_score: int | None = None,
    flagged: bool | None = None,
    where: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The task's results with their parameters. ``outlier`` puts speaking-rate outliers first (distance of
    the duration from the median of the same sentence); ``where`` keeps rows whose parameters match."""
    rows = lib.rows(
        "SELECT r.*, i.idx, i.params FROM results r JOIN items i ON i.id = r.item_id WHERE r.task_id = ?",
        (task_id,),
    )
    for r in rows:
        r["params"] = json.loads(r["params"])
        r["flags"] = json.loads(r["flags"])
        r["meta"] = json.loads(r["meta"])
        r["path"] = str(lib.abspath(r["wav"]))
    medians = {}
    for text in {r["params"]["text"] for r in rows}:
        medians[text] = statistics.median(r["duration"] for r in rows if r["params"]["text"] == text)
    for r in rows:
        med = medians[r["params"]["text"]] or 1.0
        r["outlier"] = round(abs(r["duration"] - med) / med, 4)
    if min_score is not None:
        rows = [r for r in rows if (r["score"] or 0) >= min_score]
    if flagged is not None:
        rows = [r for r in rows if bool(r["flags"]) == flagged]
    for key, value in (where or {}).items():
        rows = [r for r in rows if str(r["params"].get(key)) == str(value)]
    return sort_rows(rows, sort, descending)


def sort_rows(rows: list[dict[str, Any]], sort: str, descending: bool = False) -> list[dict[str, Any]]:
    """By ``outlier`` (most unusual first), a result column or any parameter; rows without a value last."""
    if sort == "outlier":
        return sorted(rows, key=lambda r: (-r["outlier"], r["idx"]))

    def value(r: dict) -> Any:
        return r[sort] if sort in ("duration", "score", "id") else r["params"].get(sort)

    known = [r for r in rows if value(r) is not None]
    try:
        known.sort(key=lambda r: (value(r), r["idx"]), reverse=descending)
    except TypeError:  # mixed types in one parameter: compare as text
        known.sort(key=lambda r: (str(value(r)), r["idx"]), reverse=descending)
    return known + [r for r in rows if value(r) is None]


def set_score(lib: Library, result_id: int, score: int | None) -> None:
    """1..5, or None to clear."""
    if score is not None and (isinstance(score, bool) or int(score) != score or not 1 <= int(score) <= 5):
        raise LibraryError(f"score: must be 1..5, got {score!r}", "score")
    with lib.transaction() as con:
        cur = con.execute(
            "UPDATE results SET score = ?, scored = ? WHERE id = ?",
            (None if score is None else int(score), now(), result_id),
        )
        if cur.rowcount == 0:
            raise LibraryError(f"result: unknown result {result_id}", "result")


def result(lib: Library, result_id: int) -> dict[str, Any]:
    row = lib.one(
        "SELECT r.*, i.params FROM results r JOIN items i ON i.id = r.item_id WHERE r.id = ?", (result_id,)
    )
    if row is None:
        raise LibraryError(f"result: unknown result {result_id}", "result")
    row["params"] = json.loads(row["params"])
    return row


def preset_fields(lib: Library, params: dict[str, Any]) -> dict[str, Any]:
    """The preset a combination's parameters make: reference, prompt, weights and request knobs."""
    knobs = {k: v for k, v in params.items() if k in REQUEST_FIELDS and k not in NOT_KNOBS}
    return {
        "ref_audio": lib.abspath(params["ref"]),
        "prompt_text": params.get("prompt_text", ""),
        "prompt_lang": params.get("prompt_lang", "") if params.get("prompt_text") else "",
        "knobs": knobs,
        "weights": {"gpt": params["gpt"], "sovits": params["sovits"]},
    }


def save_preset(lib: Library, result_id: int, name: str, presets_root: str | Path) -> Preset:
    """Save the combination behind a result as the API's named preset (``<presets_root>/<name>/``)."""
    fields = preset_fields(lib, result(lib, result_id)["params"])
    ref = Path(fields.pop("ref_audio"))
    if not ref.is_file():
        raise LibraryError(f"{ref}: the reference clip is gone from the library folder", "ref")
    return PresetStore(presets_root).save(name, ref, **fields)
