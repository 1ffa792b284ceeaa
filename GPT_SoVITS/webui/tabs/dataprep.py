"""Data prep tab: separation, channels, loudness, denoise, VAD, slicing, ASR; outputs pre-fill the next."""

from __future__ import annotations

from typing import Any

import gradio as gr

from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.runner import JobStatus
from GPT_SoVITS.webui.stages import FEEDS, STAGES, asr_list_path, fed_values
from GPT_SoVITS.webui.tabs.common import job_panel, one_stage, stage_form, wire_job

TOOL_STAGES = ("separate", "channels", "loudnorm", "denoise", "vad", "slice", "asr")
# Official output folder names where there is one (output/slicer_opt, output/asr_opt, output/uvr5_opt).
OUTPUT_NAMES = {"separate": "uvr5_opt", "slice": "slicer_opt", "asr": "asr_opt"}


# The main chain: a stage's input defaults to the output folder of the stage before it.
CHAIN_INPUTS = {"asr": "slice"}


def default_output(ctx: AppContext, stage: str) -> str:
    return str(ctx.output_dir / OUTPUT_NAMES.get(stage, f"{stage}_opt"))


def form_defaults(ctx: AppContext, stage: str) -> dict[str, Any]:
    """A tool stage's output folder, and its input where the chain says which stage feeds it."""
    out: dict[str, Any] = {"output": default_output(ctx, stage)}
    if stage in CHAIN_INPUTS:
        out["input"] = default_output(ctx, CHAIN_INPUTS[stage])
    return out


def default_list(ctx: AppContext) -> str:
    """The .list the ASR stage writes with its default folders (what the label editor and Format open)."""
    asr = form_defaults(ctx, "asr")
    return str(asr_list_path(asr))


def fed_updates(stage: str, st: JobStatus, targets: list[tuple[str, str]]) -> list[Any]:
    """Values of ``targets`` (stage, key) after ``stage`` succeeded: its output feeds the next inputs."""
    fed = fed_values(stage, st.outputs)
    return [gr.update(value=fed[t]) if fed.get(t) else gr.update() for t in targets]


def build_dataprep_tab(ctx: AppContext) -> dict[str, Any]:
    """Returns every component by ``<stage>.<key>``, plus ``asr_list`` (hidden: the list ASR wrote)."""
    forms: dict[str, dict[str, Any]] = {}
    panels = {}
    with gr.Tabs():
        for stage in TOOL_STAGES:
            spec = STAGES[stage]
            with gr.Tab(ctx.t(f"stage.{stage}"), id=f"prep-{stage}"):
                gr.Markdown(ctx.t(f"help.{stage}"))
                with gr.Column():
                    forms[stage] = stage_form(ctx, spec, form_defaults(ctx, stage))
                panels[stage] = job_panel(ctx, stage)
    asr_list = gr.Textbox(visible=False, elem_id="asr-list-out")
    for stage in TOOL_STAGES:
        spec = STAGES[stage]
        targets = [t for (src, _k), ts in FEEDS.items() if src == stage for t in ts]
        outputs = [forms[s][k] for s, k in targets]

        def on_success(st: JobStatus, stage: str = stage, targets: list = targets) -> list[Any]:
            updates = fed_updates(stage, st, targets)
            if stage == "asr":
                updates.append(str(asr_list_path(st.outputs)))
            return updates

        if stage == "asr":
            outputs.append(asr_list)
        wire_job(ctx, panels[stage], [stage], forms[stage], one_stage, on_success, outputs)
    comps = {f"{s}.{k}": c for s, form in forms.items() for k, c in form.items()}
    comps["asr_list"] = asr_list
    return comps
