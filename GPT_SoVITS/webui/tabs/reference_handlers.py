"""Reference tab handlers: plain functions of plain values (tested without a browser) behind the
Reference tab's layout in ``reference.py``: the library (roles, clips, import, clip tools), comparison tasks
started through the JobRunner, and the review (results, scores, presets).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.refselect import edit, library, review
from GPT_SoVITS.refselect.db import Library
from GPT_SoVITS.refselect.tasks import TaskSpec, create_task, task_folder
from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.i18n import FALLBACK, LOCALES_DIR

STAGE = "refselect"  # the runner's stage name (page reloads reattach to its newest job)
TOOLS = ("pauses", "times", "trim", "windows")
SORTS = ("outlier", "duration", "score", "id", "temperature", "top_k", "top_p", "clip_id", "gpt", "sovits")
# Runs once when the page shows the tab (gradio's js_on_load body): keys 1-5 click the score buttons.
KEYS_JS = """
if (!window.__refselKeys) {
  window.__refselKeys = true;
  document.addEventListener('keydown', (e) => {
    const t = e.target, tag = (t.tagName || '').toLowerCase();
    if (tag === 'input' || tag === 'textarea' || t.isContentEditable) return;
    if (!/^[1-5]$/.test(e.key) || e.ctrlKey || e.metaKey || e.altKey) return;
    const panel = document.getElementById('refsel-results');
    if (!panel || panel.offsetParent === null) return;  // only while the Reference tab is shown
    const b = document.getElementById('refsel-score-' + e.key);
    if (b) { e.preventDefault(); b.click(); }
  });
}
"""


@cache
def _catalog(lang: str) -> dict[str, str]:
    path = LOCALES_DIR / "reference" / f"{lang}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def text(lang: str, key: str, **fields: Any) -> str:
    """This tab's strings (locales/reference/<lang>.json, en_US fallback)."""
    value = _catalog(lang).get(key) or _catalog(FALLBACK).get(key) or key
    return value.format(**fields) if fields else value


def tab_label(ctx: AppContext) -> str:
    return text(ctx.t.lang, "tab")


# -- library handlers --------------------------------------------------------------------------------------
def role_names(lib: Library) -> list[str]:
    return [r["name"] for r in library.roles(lib)]


def clip_table(lib: Library, role: str | None) -> list[list[Any]]:
    if not role:
        return []
    return [
        [
            c["id"],
            c["duration"],
            c["loudness"],
            c["language"],
            c["transcript"],
            c["tags"],
            c["notes"],
            c["grp"] or "",
        ]
        for c in library.clips(lib, role)
    ]


def group_args(
    root: Path, role: str | None, k: float | None, gpt: str, sovits: str, hubert: str, device: str
) -> list[str]:
    """argv of ``refselect group`` (embeddings by the first SoVITS file of the comparison form)."""
    gpts, sovitss = lines(gpt), lines(sovits)
    if not gpts or not sovitss:
        raise UserError("sovits: enter GPT and SoVITS weights in the comparison form first", "sovits")
    for path in (gpts[0], sovitss[0]):
        if not Path(path).is_file():
            raise UserError(f"{path}: weights file not found", "weights")
    check_hubert(hubert)
    return [
        "--root",
        str(root),
        "group",
        "--role",
        need_role(role),
        "--k",
        str(int(k or 2)),
        "--sovits",
        sovitss[0],
        "--gpt",
        gpts[0],
        "--hubert",
        hubert.strip(),
        "--device",
        device,
    ]


def move_to_group(lib: Library, clip_id: float | None, group: float | None) -> str:
    from GPT_SoVITS.refselect.grouping import move_clip

    if clip_id is None:
        raise UserError("clip: enter a clip id", "clip")
    move_clip(lib, int(clip_id), int(group or 0))
    return f"clip {int(clip_id)} moved to group {int(group or 0)}"


def clip_choices(lib: Library, role: str | None) -> list[tuple[str, int]]:
    if not role:
        return []
    return [
        (f"#{c['id']} {c['duration']:.1f}s {c['transcript'][:24]}", c["id"]) for c in library.clips(lib, role)
    ]


def need_role(role: str | None) -> str:
    if not role:
        raise UserError("role: choose or create a role first", "role")
    return role


def import_list(lib: Library, role: str | None, path: str) -> str:
    if not (path or "").strip():
        raise UserError("list: the path of a .list file is needed", "list")
    return _report(library.import_list(lib, need_role(role), Path((path or "").strip()).expanduser()))


def import_files(lib: Library, role: str | None, files: list[str] | None) -> str:
    if not files:
        raise UserError("files: upload audio files first", "files")
    return _report(library.import_files(lib, need_role(role), files))


def _report(report: library.ImportReport) -> str:
    return "\n".join([report.summary(), *report.skipped])


def parse_list_values(raw: str, cast: type, field: str) -> list[Any]:
    """``"0.6, 1.0"`` -> [0.6, 1.0]; UserError naming the field for a value that is not a number."""
    values = []
    for part in (raw or "").replace("，", ",").split(","):
        if part.strip():
            try:
                values.append(cast(part.strip()))
            except ValueError as e:
                raise UserError(f"{field}: {part.strip()!r} is not a {cast.__name__}", field) from e
    return values


def apply_tool(lib: Library, clip_id: float | None, tool: str, times: str) -> str:
    if clip_id is None:
        raise UserError("clip: enter a clip id", "clip")
    cid = int(clip_id)
    if tool == "times":
        report = edit.split_clip(lib, cid, parse_list_values(times, float, "times"))
    elif tool == "pauses":
        report = edit.split_clip(lib, cid, None)
    elif tool == "trim":
        report = edit.trim_clip(lib, cid)
    else:
        report = edit.window_clips(lib, cid)
    how = f"; transcript split by {report.text_method}" if report.text_method else ""
    return f"new clips {', '.join(map(str, report.added))} ({report.times} s){how}"


# -- comparison handlers -----------------------------------------------------------------------------------
def lines(raw: str) -> list[str]:
    return [ln.strip() for ln in (raw or "").splitlines() if ln.strip()]


def make_spec(
    clips: list[int],
    gpt: str,
    sovits: str,
    sentences: str,
    lang: str,
    knobs: dict[str, str],
    cuts: list[str],
    seed: float | None,
    retries: float | None = None,
) -> TaskSpec:
    """A TaskSpec from the form; each knob field holds comma-separated values (empty: the default)."""
    casts = {
        "temperature": float,
        "top_k": int,
        "top_p": float,
        "repetition_penalty": float,
        "speed_factor": float,
    }
    sweep: dict[str, list[Any]] = {}
    for key, raw in knobs.items():
        values = parse_list_values(raw, casts[key], key)
        if values:
            sweep[key] = values
    if cuts:
        sweep["text_split_method"] = list(cuts)
    fixed = {"seed": int(seed) if seed is not None else 1}
    if retries is not None:
        fixed["max_retries"] = int(retries)
    return TaskSpec(
        [int(c) for c in clips or []], lines(gpt), lines(sovits), lines(sentences), lang, sweep, fixed
    )


def run_args(root: Path, task_id: int, bert: str, hubert: str, device: str) -> list[str]:
    args = [
        "--root",
        str(root),
        "run",
        "--task",
        str(task_id),
        "--hubert",
        hubert.strip(),
        "--device",
        device,
    ]
    return [*args, *(["--bert", bert.strip()] if (bert or "").strip() else ["--no-bert"])]


def check_hubert(hubert: str) -> None:
    if not (hubert or "").strip() or not Path(hubert.strip()).is_dir():
        raise UserError(f"hubert: no such folder: {hubert}", "hubert")


def render_job(ctx: AppContext, lib: Library, task_id: int, bert: str, hubert: str, device: str) -> str:
    """Render a stored task as a stage job (``refselect run``); returns the job id."""
    progress = task_folder(lib, task_id) / "progress.jsonl"
    args = run_args(lib.root, task_id, bert, hubert, device)
    return ctx.runner.start(STAGE, "GPT_SoVITS.refselect", args, progress, outputs={"task": str(task_id)})


def start_comparison(
    ctx: AppContext, lib: Library, role: str | None, spec: TaskSpec, bert: str, hubert: str, device: str
) -> tuple[int, str]:
    """Store the task, then render it as a stage job; returns (task id, job id)."""
    check_hubert(hubert)
    task_id = create_task(lib, f"{role or 'task'} x{spec.size()}", spec, need_role(role))
    return task_id, render_job(ctx, lib, task_id, bert, hubert, device)


def start_longtext(
    ctx: AppContext,
    lib: Library,
    task_id: int | None,
    passage: str,
    top: float | None,
    bert: str,
    hubert: str,
    device: str,
) -> tuple[int, str]:
    """The long-text check: the task's top-scored settings on ``passage``, rendered as a stage job."""
    from GPT_SoVITS.refselect.tasks import followup_task

    if task_id is None:
        raise UserError("task: choose a scored task first", "task")
    check_hubert(hubert)
    new_id = followup_task(lib, int(task_id), passage or "", int(top or 3))
    return new_id, render_job(ctx, lib, new_id, bert, hubert, device)


def task_choices(lib: Library) -> list[tuple[str, int]]:
    from GPT_SoVITS.refselect.tasks import tasks

    return [(f"#{t['id']} {t['name']} ({t['done']}/{t['total']}, {t['state']})", t["id"]) for t in tasks(lib)]


# -- review handlers ---------------------------------------------------------------------------------------
RESULT_HEADERS = [
    "id",
    "score",
    "duration",
    "outlier",
    "clip",
    "temperature",
    "top_k",
    "top_p",
    "text",
    "flags",
]


def result_table(
    lib: Library, task_id: int | None, sort: str, desc: bool, min_score: float | None
) -> list[list]:
    if task_id is None:
        return []
    rows = review.results(lib, int(task_id), sort, bool(desc), int(min_score) if min_score else None)
    return [
        [
            r["id"],
            r["score"] or "",
            r["duration"],
            r["outlier"],
            r["params"]["clip_id"],
            r["params"].get("temperature", ""),
            r["params"].get("top_k", ""),
            r["params"].get("top_p", ""),
            r["params"]["text"],
            "; ".join(r["flags"]),
        ]
        for r in rows
    ]


def show_result(lib: Library, result_id: int | None) -> tuple[str | None, Any]:
    """(audio path, spectrogram picture) of a result."""
    if not result_id:
        return None, None
    from GPT_SoVITS.webui.plots import spectrogram_image

    path = lib.abspath(review.result(lib, int(result_id))["wav"])
    return str(path), spectrogram_image(path, width=480, height=128)


def score_and_next(lib: Library, table: list[list], result_id: int | None, score: int) -> int | None:
    """Score the selected result; returns the id of the next row of the table (the same at the end)."""
    if not result_id:
        raise UserError("result: select a result first", "result")
    review.set_score(lib, int(result_id), score)
    ids = [int(row[0]) for row in table if str(row[0]).strip()]
    if int(result_id) in ids:
        i = ids.index(int(result_id))
        return ids[min(i + 1, len(ids) - 1)]
    return int(result_id)


def save_preset(lib: Library, result_id: int | None, name: str, presets_dir: Path) -> str:
    if not result_id:
        raise UserError("result: select a result first", "result")
    preset = review.save_preset(lib, int(result_id), (name or "").strip(), presets_dir)
    return f"preset {preset.name} saved ({presets_dir / preset.name})"


# -- layout ------------------------------------------------------------------------------------------------
