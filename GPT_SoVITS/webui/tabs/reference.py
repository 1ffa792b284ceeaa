"""Reference tab: the reference library (roles, clips, import, clip tools), comparison tasks run as a stage
through the JobRunner, and the review (audio, spectrogram, 1-5 scores from the keyboard, sort, presets).

Handlers are plain functions of plain values (tested without a browser); ``build_reference_tab`` only lays
out components and connects them. The UI process never renders audio itself: ``python -m
GPT_SoVITS.refselect run`` does, in a subprocess that loads the models once.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.inference.request import CUT_METHODS, V2_LANGUAGES
from GPT_SoVITS.refselect import edit, library, review
from GPT_SoVITS.refselect.db import Library
from GPT_SoVITS.refselect.tasks import TaskSpec, create_task, task_folder
from GPT_SoVITS.versions import DEFAULT_VERSION
from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.i18n import FALLBACK, LOCALES_DIR
from GPT_SoVITS.webui.pickers import list_files, newest_weight
from GPT_SoVITS.webui.tabs.common import POLL_S, device_choices, poll_job, status_html

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
    if not (hubert or "").strip() or not Path(hubert.strip()).is_dir():
        raise UserError(f"hubert: no such folder: {hubert}", "hubert")
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


def start_comparison(
    ctx: AppContext, lib: Library, role: str | None, spec: TaskSpec, bert: str, hubert: str, device: str
) -> tuple[int, str]:
    """Store the task, then render it as a stage job; returns (task id, job id)."""
    if not (hubert or "").strip() or not Path(hubert.strip()).is_dir():
        raise UserError(f"hubert: no such folder: {hubert}", "hubert")
    task_id = create_task(lib, f"{role or 'task'} x{spec.size()}", spec, need_role(role))
    progress = task_folder(lib, task_id) / "progress.jsonl"
    job_id = ctx.runner.start(
        STAGE,
        "GPT_SoVITS.refselect",
        run_args(lib.root, task_id, bert, hubert, device),
        progress,
        outputs={"task": str(task_id)},
    )
    return task_id, job_id


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
    if not (hubert or "").strip() or not Path(hubert.strip()).is_dir():
        raise UserError(f"hubert: no such folder: {hubert}", "hubert")
    new_id = followup_task(lib, int(task_id), passage or "", int(top or 3))
    progress = task_folder(lib, new_id) / "progress.jsonl"
    job_id = ctx.runner.start(
        STAGE,
        "GPT_SoVITS.refselect",
        run_args(lib.root, new_id, bert, hubert, device),
        progress,
        outputs={"task": str(new_id)},
    )
    return new_id, job_id


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
def _guard(fn, *outputs_on_error: Any):
    """Run a handler; a UserError becomes a warning and ``outputs_on_error`` (one per output)."""

    def run(*args: Any) -> Any:
        try:
            return fn(*args)
        except UserError as e:
            gr.Warning(str(e))
            return outputs_on_error[0] if len(outputs_on_error) == 1 else outputs_on_error

    return run


def build_reference_tab(ctx: AppContext) -> dict[str, Any]:
    lib = Library(ctx.output_dir / "refs")
    presets_dir = ctx.output_dir / "voices"  # the API's default --presets-dir
    lang = ctx.t.lang

    def t(key: str) -> str:
        return text(lang, key)

    gr.Markdown(t("help"))
    c: dict[str, Any] = {}
    with gr.Accordion(t("library"), open=True):
        with gr.Row():
            names = role_names(lib)
            c["role"] = gr.Dropdown(
                names, value=names[0] if names else None, label=t("role"), elem_id="refsel-role"
            )
            c["new_role"] = gr.Textbox(label=t("new_role"), elem_id="refsel-new-role")
            c["category"] = gr.Textbox(label=t("category"), elem_id="refsel-category")
            c["create_role"] = gr.Button(t("create_role"), elem_id="refsel-create-role")
        c["clips"] = gr.Dataframe(
            clip_table(lib, names[0] if names else None),
            headers=["id", "s", "dB", "lang", "transcript", "tags", "notes", "group"],
            interactive=False,
            elem_id="refsel-clips",
            type="array",
        )
        with gr.Row():
            c["list_path"] = gr.Dropdown(
                list_files(ctx.root),
                value=None,
                label=t("list_path"),
                allow_custom_value=True,
                elem_id="refsel-list-path",
                scale=3,
            )
            c["import_list"] = gr.Button(t("import_list"), elem_id="refsel-import-list")
            c["upload"] = gr.File(
                label=t("upload"), file_count="multiple", type="filepath", elem_id="refsel-upload"
            )
            c["import_files"] = gr.Button(t("import_files"), elem_id="refsel-import-files")
        with gr.Row():
            c["clip_id"] = gr.Number(label=t("clip_id"), precision=0, elem_id="refsel-clip-id")
            c["tool"] = gr.Dropdown(list(TOOLS), value="pauses", label=t("tool"), elem_id="refsel-tool")
            c["times"] = gr.Textbox(label=t("times"), elem_id="refsel-times")
            c["apply_tool"] = gr.Button(t("apply_tool"), elem_id="refsel-apply-tool")
        with gr.Row():
            c["k"] = gr.Number(value=2, precision=0, label=t("k"), elem_id="refsel-k")
            c["group"] = gr.Button(t("group"), elem_id="refsel-group")
            c["move_group"] = gr.Number(
                value=1, precision=0, label=t("move_group"), elem_id="refsel-move-group"
            )
            c["move"] = gr.Button(t("move"), elem_id="refsel-move")
        c["lib_status"] = gr.Textbox(
            label=t("status"), lines=2, interactive=False, elem_id="refsel-lib-status"
        )
    with gr.Accordion(t("compare"), open=True):
        c["refs"] = gr.CheckboxGroup(
            clip_choices(lib, names[0] if names else None), label=t("refs"), elem_id="refsel-refs"
        )
        with gr.Row():
            version = DEFAULT_VERSION.value
            c["gpt"] = gr.Textbox(
                newest_weight(ctx.root, "gpt", version), label=t("gpt"), lines=2, elem_id="refsel-gpt"
            )
            c["sovits"] = gr.Textbox(
                newest_weight(ctx.root, "sovits", version),
                label=t("sovits"),
                lines=2,
                elem_id="refsel-sovits",
            )
            c["sentences"] = gr.Textbox(label=t("sentences"), lines=3, elem_id="refsel-sentences")
        with gr.Row():
            c["text_lang"] = gr.Dropdown(
                list(V2_LANGUAGES), value="zh", label=t("text_lang"), elem_id="refsel-text-lang"
            )
            for key in ("temperature", "top_k", "top_p", "repetition_penalty", "speed_factor"):
                c[key] = gr.Textbox(label=t(key), elem_id=f"refsel-{key.replace('_', '-')}")
        with gr.Row():
            c["cuts"] = gr.CheckboxGroup(list(CUT_METHODS), label=t("cut"), elem_id="refsel-cuts")
            c["seed"] = gr.Number(value=1, precision=0, label=t("seed"), elem_id="refsel-seed")
            c["retries"] = gr.Number(value=2, precision=0, label=t("retries"), elem_id="refsel-retries")
            c["bert"] = gr.Textbox(
                value=str(ctx.root / "pretrained_models" / "chinese-roberta-wwm-ext-large"),
                label=t("bert"),
                elem_id="refsel-bert",
            )
            c["hubert"] = gr.Textbox(
                value=str(ctx.root / "pretrained_models" / "chinese-hubert-base"),
                label=t("hubert"),
                elem_id="refsel-hubert",
            )
            c["device"] = gr.Dropdown(
                device_choices(), value="auto", label=t("device"), allow_custom_value=True
            )
        c["run"] = gr.Button(t("run"), variant="primary", elem_id="refsel-run")
        c["status"] = gr.HTML(status_html(ctx, None), elem_id="refsel-status")
        c["log"] = gr.Textbox(
            label=ctx.t("job.log"), lines=4, max_lines=4, autoscroll=True, elem_id="refsel-log"
        )
        c["job"], c["timer"] = gr.State(None), gr.Timer(POLL_S, active=False)
    with gr.Accordion(t("results"), open=True, elem_id="refsel-results"):
        with gr.Row():
            c["task"] = gr.Dropdown(task_choices(lib), label=t("task"), elem_id="refsel-task")
            c["sort"] = gr.Dropdown(
                list(SORTS), value="outlier", label=t("sort"), allow_custom_value=True, elem_id="refsel-sort"
            )
            c["desc"] = gr.Checkbox(label=t("desc"), elem_id="refsel-desc")
            c["min_score"] = gr.Number(label=t("min_score"), precision=0, elem_id="refsel-min-score")
            c["refresh"] = gr.Button(t("refresh"), elem_id="refsel-refresh")
        c["results"] = gr.Dataframe(
            [], headers=RESULT_HEADERS, interactive=False, type="array", elem_id="refsel-table"
        )
        with gr.Row():
            c["result_id"] = gr.Number(label=t("result_id"), precision=0, elem_id="refsel-result-id")
            c["audio"] = gr.Audio(
                label=t("audio"), type="filepath", interactive=False, elem_id="refsel-audio"
            )
            c["spectrogram"] = gr.Image(
                label=t("spectrogram"), type="pil", interactive=False, elem_id="refsel-spec"
            )
        gr.Markdown(t("score_hint"))
        with gr.Row():
            c["scores"] = [gr.Button(str(n), elem_id=f"refsel-score-{n}", min_width=40) for n in range(1, 6)]
        with gr.Row():
            c["preset_name"] = gr.Textbox(label=t("preset_name"), elem_id="refsel-preset-name")
            c["save_preset"] = gr.Button(t("save_preset"), elem_id="refsel-save-preset")
        with gr.Row():
            c["passage"] = gr.Textbox(label=t("passage"), lines=3, elem_id="refsel-passage", scale=4)
            c["top"] = gr.Number(value=3, precision=0, label=t("top"), elem_id="refsel-top")
            c["longtext"] = gr.Button(t("longtext"), elem_id="refsel-longtext")
        c["review_status"] = gr.Textbox(label=t("status"), interactive=False, elem_id="refsel-review-status")
        gr.HTML("", js_on_load=KEYS_JS, elem_id="refsel-keys")
    _wire(ctx, lib, presets_dir, c)
    return c


def _wire(ctx: AppContext, lib: Library, presets_dir: Path, c: dict[str, Any]) -> None:
    keep = gr.update()

    def library_view(role: str | None) -> tuple:
        return clip_table(lib, role), gr.update(choices=clip_choices(lib, role), value=[])

    lib_out = [c["lib_status"], c["clips"], c["refs"]]

    def after(fn):  # a library action, then the refreshed clip table and reference choices
        return _guard(lambda role, *a: (fn(role, *a), *library_view(role)), keep, keep, keep)

    c["role"].change(library_view, [c["role"]], [c["clips"], c["refs"]])

    def on_create(name: str, category: str) -> tuple:
        library.create_role(lib, name, category)
        return gr.update(choices=role_names(lib), value=name.strip()), f"role {name.strip()} created"

    c["create_role"].click(
        _guard(on_create, keep, keep), [c["new_role"], c["category"]], [c["role"], c["lib_status"]]
    )
    c["import_list"].click(after(lambda r, p: import_list(lib, r, p)), [c["role"], c["list_path"]], lib_out)
    c["import_files"].click(after(lambda r, f: import_files(lib, r, f)), [c["role"], c["upload"]], lib_out)
    tool_in = [c["role"], c["clip_id"], c["tool"], c["times"]]
    c["apply_tool"].click(after(lambda r, i, tool, times: apply_tool(lib, i, tool, times)), tool_in, lib_out)
    move_in = [c["role"], c["clip_id"], c["move_group"]]
    c["move"].click(after(lambda r, i, g: move_to_group(lib, i, g)), move_in, lib_out)

    knob_keys = ("temperature", "top_k", "top_p", "repetition_penalty", "speed_factor")
    run_in = [
        c[k]
        for k in (
            "role",
            "refs",
            "gpt",
            "sovits",
            "sentences",
            "text_lang",
            *knob_keys,
            "cuts",
            "seed",
            "retries",
            "bert",
            "hubert",
            "device",
        )
    ]

    def on_run(role, refs, gpt, sovits, sentences, text_lang, *rest) -> tuple:
        knobs = dict(zip(knob_keys, rest[:5], strict=True))
        cuts, seed, retries, bert, hubert, device = rest[5:]
        spec = make_spec(refs, gpt, sovits, sentences, text_lang, knobs, cuts, seed, retries)
        task_id, job_id = start_comparison(ctx, lib, role, spec, bert, hubert, device)
        tasks_update = gr.update(choices=task_choices(lib), value=task_id)
        return job_id, status_html(ctx, ctx.runner.status(job_id)), gr.Timer(active=True), tasks_update

    def run_failed(*args) -> tuple:
        try:
            return on_run(*args)
        except (UserError, OSError) as e:
            gr.Warning(str(e))
            return None, status_html(ctx, None, str(e)), gr.Timer(active=False), keep

    c["run"].click(run_failed, run_in, [c["job"], c["status"], c["timer"], c["task"]])

    def on_longtext(task_id, passage, top, bert, hubert, device) -> tuple:
        try:
            new_id, job_id = start_longtext(ctx, lib, task_id, passage, top, bert, hubert, device)
        except (UserError, OSError) as e:
            gr.Warning(str(e))
            return keep, status_html(ctx, None, str(e)), gr.Timer(active=False), keep
        tasks_update = gr.update(choices=task_choices(lib), value=new_id)
        return job_id, status_html(ctx, ctx.runner.status(job_id)), gr.Timer(active=True), tasks_update

    long_in = [c["task"], c["passage"], c["top"], c["bert"], c["hubert"], c["device"]]
    c["longtext"].click(on_longtext, long_in, [c["job"], c["status"], c["timer"], c["task"]])

    def on_tick(job_id: str | None, role: str | None) -> tuple:
        job_id = ctx.runner.latest(STAGE) or job_id
        html_, tail, running, _ = poll_job(ctx, job_id)
        tasks_update = gr.update(choices=task_choices(lib))
        return job_id, html_, tail, gr.Timer(active=running), tasks_update, clip_table(lib, role)

    tick_out = [c["job"], c["status"], c["log"], c["timer"], c["task"], c["clips"]]
    c["timer"].tick(on_tick, [c["job"], c["role"]], tick_out)

    def on_group(role, k, gpt, sovits, hubert, device) -> tuple:
        try:
            args = group_args(lib.root, role, k, gpt, sovits, hubert, device)
            job_id = ctx.runner.start(STAGE, "GPT_SoVITS.refselect", args, None, outputs={"role": str(role)})
        except (UserError, OSError) as e:
            gr.Warning(str(e))
            return keep, status_html(ctx, None, str(e)), gr.Timer(active=False)
        return job_id, status_html(ctx, ctx.runner.status(job_id)), gr.Timer(active=True)

    group_in = [c["role"], c["k"], c["gpt"], c["sovits"], c["hubert"], c["device"]]
    c["group"].click(on_group, group_in, [c["job"], c["status"], c["timer"]])
    ctx.panels.append((_Panel(c["job"], c["status"], c["log"], c["timer"]), (STAGE,)))

    view_in = [c["task"], c["sort"], c["desc"], c["min_score"]]
    table = _guard(lambda *a: result_table(lib, *a), keep)
    for comp in (c["task"], c["sort"], c["desc"], c["min_score"]):
        comp.change(table, view_in, [c["results"]])
    c["refresh"].click(table, view_in, [c["results"]])

    def on_select(evt: gr.SelectData) -> tuple:
        row = evt.row_value or []
        rid = int(row[0]) if row and str(row[0]).strip() else None
        return (rid, *show_result(lib, rid))

    c["results"].select(on_select, None, [c["result_id"], c["audio"], c["spectrogram"]])
    for n, button in enumerate(c["scores"], start=1):

        def on_score(task_id, sort, desc, min_score, rows, rid, n: int = n) -> tuple:
            next_id = score_and_next(lib, rows, rid, n)
            return (
                result_table(lib, task_id, sort, desc, min_score),
                next_id,
                *show_result(lib, next_id),
                f"result {int(rid)}: {n}",
            )

        outs = [c["results"], c["result_id"], c["audio"], c["spectrogram"], c["review_status"]]
        button.click(_guard(on_score, *([keep] * 5)), [*view_in, c["results"], c["result_id"]], outs)
    save = _guard(lambda rid, name: save_preset(lib, rid, name, presets_dir), keep)
    c["save_preset"].click(save, [c["result_id"], c["preset_name"]], [c["review_status"]])


class _Panel:
    """What the app's page-load reattach needs of a job panel."""

    def __init__(self, job: Any, status: Any, log: Any, timer: Any) -> None:
        self.job, self.status, self.log, self.timer = job, status, log, timer
