"""The WebUI: one Gradio app with a tab per step, from raw audio to a cloned voice.

``build_app`` only builds; ``webui.py`` launches. Tabs that other packages provide (the SubFix label editor)
are passed in as builders, so this package does not import them (see ARCHITECTURE.md, import direction).
"""

from __future__ import annotations

import atexit
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from GPT_SoVITS import paths
from GPT_SoVITS.webui.apiclient import ApiServer
from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.i18n import I18n
from GPT_SoVITS.webui.runner import JobRunner
from GPT_SoVITS.webui.tabs.common import status_html, wire_reattach
from GPT_SoVITS.webui.tabs.dataprep import build_dataprep_tab, default_list
from GPT_SoVITS.webui.tabs.format import build_format_tab
from GPT_SoVITS.webui.tabs.inference import build_inference_tab
from GPT_SoVITS.webui.tabs.models import build_models_tab
from GPT_SoVITS.webui.tabs.reference import build_reference_tab, tab_label
from GPT_SoVITS.webui.tabs.train import build_train_tab

log = logging.getLogger(__name__)

# A label tab builder: (i18n, default .list path) -> components (it must expose "path" for the hand-off).
LabelTab = Callable[[I18n, str], dict[str, Any]]

CSS = """
.job-status progress { width: 240px; vertical-align: middle; }
.job-status[data-state=failed] b, .job-status[data-state=invalid] b, .subfix-err { color: #c62828; }
.job-status[data-state=succeeded] b { color: #2e7d32; }
"""


def make_context(lang: str = "auto", root: Path | None = None) -> AppContext:
    """The shared state of one app: language, job runner (jobs under ``<root>/logs/webui-jobs``), API."""
    root = Path(root or paths.REPO_ROOT).resolve()
    runner = JobRunner(root / "logs" / "webui-jobs", cwd=paths.REPO_ROOT)
    ctx = AppContext(t=I18n(lang), runner=runner, root=root)
    # the API may read references the browser uploaded (Gradio's temp folder) and files under the root
    ctx.api = ApiServer(runner, allowed_roots=[str(root), gradio_upload_dir(), str(paths.REPO_ROOT)])
    return ctx


def gradio_upload_dir() -> str:
    """Where Gradio stores files the browser uploads (GRADIO_TEMP_DIR, else <tmp>/gradio)."""
    return os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")


def _jobs_table(ctx: AppContext) -> list[list[Any]]:
    return [
        [
            st.id,
            st.stage,
            ctx.t(f"job.{st.state}"),
            "" if st.fraction is None else f"{st.fraction * 100:.0f}%",
            st.message,
        ]
        for st in ctx.runner.jobs()
    ]


def _build_jobs_tab(ctx: AppContext) -> None:
    t = ctx.t
    table = gr.Dataframe(
        _jobs_table(ctx),
        headers=[t("jobs.id"), t("jobs.stage"), t("jobs.state"), "%", t("jobs.message")],
        interactive=False,
        elem_id="jobs-table",
    )
    with gr.Row():
        job_id = gr.Textbox(label=t("jobs.id"), elem_id="jobs-stop-id")
        stop = gr.Button(t("job.stop"), variant="stop", elem_id="jobs-stop")
        refresh = gr.Button(t("train.refresh"), elem_id="jobs-refresh")
    result = gr.HTML()

    def on_stop(jid: str) -> tuple:
        try:
            html_ = status_html(ctx, ctx.runner.stop(jid.strip()))
        except KeyError as e:
            html_ = status_html(ctx, None, str(e))
        return _jobs_table(ctx), html_

    stop.click(on_stop, [job_id], [table, result])
    refresh.click(lambda: _jobs_table(ctx), None, [table])
    gr.Timer(3.0).tick(lambda: _jobs_table(ctx), None, [table], show_progress="hidden")


def build_app(
    lang: str = "auto",
    root: Path | None = None,
    label_tab: LabelTab | None = None,
    ctx: AppContext | None = None,
) -> gr.Blocks:
    """The whole WebUI as a ``gr.Blocks`` (not launched). ``label_tab`` builds the Label tab."""
    ctx = ctx or make_context(lang, root)
    atexit.register(ctx.runner.stop_all)
    t = ctx.t
    with gr.Blocks(title=t("app.title"), analytics_enabled=False) as demo:
        gr.Markdown(f"## {t('app.title')}")
        with gr.Tabs():
            with gr.Tab(t("tab.dataprep"), id="dataprep"):
                prep = build_dataprep_tab(ctx)
            label: dict[str, Any] = {}
            if label_tab is not None:
                with gr.Tab(t("tab.label"), id="label"):
                    label = label_tab(t, default_list(ctx))
            with gr.Tab(t("tab.format"), id="format"):
                fmt = build_format_tab(ctx)
            with gr.Tab(t("tab.train"), id="train"):
                train = build_train_tab(ctx)
            with gr.Tab(t("tab.inference"), id="inference"):
                build_inference_tab(ctx)
            with gr.Tab(tab_label(ctx), id="reference"):
                build_reference_tab(ctx)
            with gr.Tab(t("tab.models"), id="models"):
                build_models_tab(ctx)
            with gr.Tab(t("tab.jobs"), id="jobs"):
                _build_jobs_tab(ctx)
        # hand-offs between tabs: the list ASR wrote -> label editor and format; formatted exp -> train
        targets = [fmt["list"], *([label["path"]] if "path" in label else [])]
        prep["asr_list"].change(lambda v: [v] * len(targets), [prep["asr_list"]], targets)
        fmt["exp_out"].change(lambda v: v, [fmt["exp_out"]], [train["exp_name"]])
        # one experiment name across tabs: naming it in Format names it in Train
        fmt["exp_name"].change(lambda v: v, [fmt["exp_name"]], [train["exp_name"]])
        wire_reattach(ctx, demo)
    demo.ctx = ctx  # for the launcher and tests
    return demo
