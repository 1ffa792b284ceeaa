"""Reference tab: the reference library (roles, clips, import, clip tools), comparison tasks run as a stage
through the JobRunner, and the review (audio, spectrogram, 1-5 scores from the keyboard, sort, presets).

Handlers are plain functions of plain values (tested without a browser); ``build_reference_tab`` only lays
out components and connects them. The UI process never renders audio itself: ``python -m
GPT_SoVITS.refselect run`` does, in a subprocess that loads the models once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.inference.request import CUT_METHODS, V2_LANGUAGES
from GPT_SoVITS.refselect import library
from GPT_SoVITS.refselect.db import Library
from GPT_SoVITS.versions import DEFAULT_VERSION
from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.pickers import list_files, newest_weight
from GPT_SoVITS.webui.tabs.common import POLL_S, device_choices, poll_job, status_html
from GPT_SoVITS.webui.tabs.reference_handlers import (  # noqa: F401 (handlers, re-exported for tests)
    KEYS_JS,
    RESULT_HEADERS,
    SORTS,
    STAGE,
    TOOLS,
    _catalog,
    _report,
    apply_tool,
    clip_choices,
    clip_table,
    group_args,
    import_files,
    import_list,
    lines,
    make_spec,
    move_to_group,
    need_role,
    parse_list_values,
    result_table,
    role_names,
    run_args,
    save_preset,
    score_and_next,
    show_result,
    start_comparison,
    start_longtext,
    tab_label,
    task_choices,
    text,
)


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
