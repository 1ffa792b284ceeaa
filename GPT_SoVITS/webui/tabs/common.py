"""Pieces every stage tab uses: a form built from a StageSpec, and a job panel (start, stop, progress, log).

Handlers are plain functions of plain values (testable without a browser); the ``wire_*`` functions only
connect them to components.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.pickers import PATH_KINDS, path_choices
from GPT_SoVITS.webui.runner import RUNNING, JobStatus
from GPT_SoVITS.webui.stages import STAGES, Arg, StageInputError, StageSpec, build_argv, progress_file

POLL_S = 1.0  # how often a running job's panel refreshes


def device_choices() -> list[str]:
    """auto, cpu, and one cuda:N per GPU that nvidia-smi lists (the UI process never imports torch)."""
    choices = ["auto", "cpu"]
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return choices
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return choices
    gpus = [line for line in out.splitlines() if line.startswith("GPU ")]
    return choices + [f"cuda:{i}" for i in range(len(gpus))]


def arg_label(ctx: AppContext, spec: StageSpec, key: str) -> str:
    """The label of a value: a stage-specific text if the catalogue has one, else the generic one."""
    specific = f"arg.{spec.key}.{key}"
    return ctx.t(specific) if ctx.t.has(specific) else ctx.t(f"arg.{key}")


PER_ROW = 4  # short fields (numbers, choices) side by side


def _component(ctx: AppContext, spec: StageSpec, arg: Arg, value: Any) -> Any:
    kw = {"label": arg_label(ctx, spec, arg.key), "elem_id": f"{spec.key}-{arg.key}"}
    if arg.kind == "bool":
        return gr.Checkbox(value=bool(value), **kw)
    if arg.kind == "choice":
        return gr.Dropdown(list(arg.choices), value=value, **kw)
    if arg.kind == "device":
        return gr.Dropdown(device_choices(), value=value, allow_custom_value=True, **kw)
    if arg.kind in ("int", "float") and not arg.extra and value is not None:
        return gr.Number(value=value, precision=0 if arg.kind == "int" else None, **kw)
    if arg.kind in PATH_KINDS:  # pick what exists, or type a path
        text = "" if value is None else str(value)
        return gr.Dropdown(
            path_choices(ctx.root, arg.key, arg.kind), value=text or None, allow_custom_value=True, **kw
        )
    # text: numbers whose empty value means "the stage decides" (placeholder says so)
    placeholder = ctx.t("hint.auto") if value is None else None
    return gr.Textbox(value="" if value is None else str(value), placeholder=placeholder, **kw)


def stage_form(
    ctx: AppContext, spec: StageSpec, overrides: dict[str, Any] | None = None, skip: Sequence[str] = ()
) -> dict[str, Any]:
    """One input component per value of ``spec`` (elem_id ``<stage>-<key>`` for tests and CSS): paths two
    to a row (dropdowns of what exists, with a refresh button ``<stage>-refresh``), short fields four to a
    row."""
    overrides = overrides or {}
    args = [a for a in spec.args if a.key not in skip]
    paths_ = [a for a in args if a.kind in PATH_KINDS]
    short = [a for a in args if a.kind not in PATH_KINDS]
    comps: dict[str, Any] = {}
    for group in [paths_[i : i + 2] for i in range(0, len(paths_), 2)] + [
        short[i : i + PER_ROW] for i in range(0, len(short), PER_ROW)
    ]:
        with gr.Row():
            for arg in group:
                comps[arg.key] = _component(ctx, spec, arg, overrides.get(arg.key, arg.default))
    if paths_:
        refresh = gr.Button(ctx.t("train.refresh"), elem_id=f"{spec.key}-refresh", size="sm")
        pickers = [comps[a.key] for a in paths_]
        refresh.click(lambda: refresh_paths(ctx, spec, [a.key for a in paths_]), None, pickers)
    return {a.key: comps[a.key] for a in args}


def refresh_paths(ctx: AppContext, spec: StageSpec, keys: Sequence[str]) -> list[Any]:
    """New choices of the path pickers ``keys`` of ``spec`` (their values are kept)."""
    return [gr.Dropdown(choices=path_choices(ctx.root, k, spec.arg(k).kind)) for k in keys]


def status_html(ctx: AppContext, st: JobStatus | None, error: str = "") -> str:
    """The progress bar and one line of state; ``data-state`` lets tests and CSS read it."""
    if error:
        return f'<div class="job-status" data-state="invalid"><b>⚠ {html.escape(error)}</b></div>'
    if st is None:
        return f'<div class="job-status" data-state="idle">{html.escape(ctx.t("job.idle"))}</div>'
    bar = "" if st.fraction is None else f'<progress value="{st.fraction:.3f}" max="1"></progress> '
    pct = "" if st.fraction is None else f" {st.fraction * 100:.0f}%"
    state = ctx.t(f"job.{st.state}")
    return (
        f'<div class="job-status" data-state="{st.state}" data-job="{html.escape(st.id)}">{bar}'
        f"<b>{html.escape(state)}</b>{pct} — {html.escape(st.message)}</div>"
    )


def start_job(ctx: AppContext, stage_keys: Sequence[str], values: Sequence[dict[str, Any]]) -> str:
    """Validate every step's values, then start them as one job; StageInputError names the bad field."""
    steps = []
    for key, vals in zip(stage_keys, values, strict=True):
        spec = STAGES[key]
        steps.append((spec.module, build_argv(spec, vals)))
    first = STAGES[stage_keys[0]]
    progress = progress_file(first, values[0])
    outputs = {k: str(v) for vals in values for k, v in vals.items() if v is not None}
    return ctx.runner.start_chain("+".join(stage_keys), steps, progress, outputs=outputs)


def poll_job(ctx: AppContext, job_id: str | None) -> tuple[str, str, bool, JobStatus | None]:
    """(status html, log tail, still running, status) of ``job_id``."""
    if not job_id:
        return status_html(ctx, None), "", False, None
    try:
        st = ctx.runner.status(job_id)
    except KeyError:
        return status_html(ctx, None), "", False, None
    return status_html(ctx, st), st.log_tail, st.state == RUNNING, st


def stop_job(ctx: AppContext, job_id: str | None) -> str:
    if not job_id:
        return status_html(ctx, None)
    return status_html(ctx, ctx.runner.stop(job_id))


def latest_job(ctx: AppContext, stage_keys: Sequence[str]) -> str | None:
    """The newest job of this panel's stages (what a reloaded page reattaches to)."""
    return ctx.runner.latest("+".join(stage_keys))


@dataclass
class JobPanel:
    start: Any
    stop: Any
    status: Any
    log: Any
    job: Any  # gr.State holding the job id
    timer: Any


def job_panel(ctx: AppContext, elem: str, start_label: str | None = None) -> JobPanel:
    with gr.Row():
        start = gr.Button(start_label or ctx.t("job.start"), variant="primary", elem_id=f"{elem}-start")
        stop = gr.Button(ctx.t("job.stop"), variant="stop", elem_id=f"{elem}-stop")
    status = gr.HTML(status_html(ctx, None), elem_id=f"{elem}-status")
    log = gr.Textbox(label=ctx.t("job.log"), lines=8, max_lines=8, autoscroll=True, elem_id=f"{elem}-log")
    return JobPanel(start, stop, status, log, gr.State(None), gr.Timer(POLL_S, active=False))


def one_stage(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The converter of a plain stage form: the form's values are the stage's values."""
    return [values]


def wire_job(
    ctx: AppContext,
    panel: JobPanel,
    stage_keys: Sequence[str],
    inputs: Mapping[str, Any],
    to_values: Callable[[dict[str, Any]], list[dict[str, Any]]] = one_stage,
    on_success: Callable[[JobStatus], list[Any]] | None = None,
    success_outputs: Sequence[Any] = (),
    on_poll: Callable[[JobStatus | None], list[Any]] | None = None,
    poll_outputs: Sequence[Any] = (),
) -> None:
    """Connect a panel: start hands the ``inputs`` values by name (``{name: value}``) to ``to_values``,
    which makes each stage's values; they are validated and launched. The timer polls; stop kills.
    ``on_success`` feeds later tabs (one value per component of ``success_outputs``) once the job
    succeeded; ``on_poll`` updates ``poll_outputs`` at every poll."""

    def on_start(**values: Any) -> tuple:
        try:
            job_id = start_job(ctx, stage_keys, to_values(values))
        except (StageInputError, OSError) as e:
            gr.Warning(str(e))
            return None, status_html(ctx, None, str(e)), gr.Timer(active=False)
        return job_id, status_html(ctx, ctx.runner.status(job_id)), gr.Timer(active=True)

    def on_tick(job_id: str | None) -> tuple:
        # The panel follows its stage's newest job: the page-load reattach (``wire_reattach``) runs
        # concurrently with a start clicked right after loading and may answer last, with an older job.
        job_id = latest_job(ctx, stage_keys) or job_id
        html_, tail, running, st = poll_job(ctx, job_id)
        fed = [gr.update()] * len(success_outputs)
        if st is not None and st.state == "succeeded" and on_success is not None:
            fed = on_success(st)
        polled = on_poll(st) if on_poll is not None else []
        return (job_id, html_, tail, gr.Timer(active=running), *fed, *polled)

    def on_stop(job_id: str | None) -> str:
        return stop_job(ctx, job_id)

    panel.start.click(on_start, None, [panel.job, panel.status, panel.timer], inputs_kwargs=dict(inputs))
    outputs = [panel.job, panel.status, panel.log, panel.timer, *success_outputs, *poll_outputs]
    panel.timer.tick(on_tick, [panel.job], outputs)
    panel.stop.click(on_stop, [panel.job], [panel.status])
    ctx.panels.append((panel, tuple(stage_keys)))


def wire_reattach(ctx: AppContext, demo: gr.Blocks) -> None:
    """On page load each panel finds its stage's newest job, so a reload shows running jobs again."""
    for panel, keys in ctx.panels:

        def on_load(keys: tuple[str, ...] = keys) -> tuple:
            job_id = latest_job(ctx, keys)
            if job_id is None:  # the page already says "not started"; answering that could overwrite a
                return (gr.update(),) * 4  # job started from this page while the load was in flight
            html_, tail, _running, _ = poll_job(ctx, job_id)
            # one tick at least: it hands a finished job's outputs to the next tabs again, then stops
            return job_id, html_, tail, gr.Timer(active=True)

        demo.load(on_load, None, [panel.job, panel.status, panel.log, panel.timer])
