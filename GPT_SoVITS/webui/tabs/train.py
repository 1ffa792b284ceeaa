"""Train tab: SoVITS then GPT on a formatted experiment, live loss curves, exported epochs with samples."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from GPT_SoVITS import paths
from GPT_SoVITS.versions import DEFAULT_VERSION
from GPT_SoVITS.webui import pretrained
from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.pickers import pretrained_note
from GPT_SoVITS.webui.runner import JobStatus
from GPT_SoVITS.webui.stages import STAGES
from GPT_SoVITS.webui.tabs.common import job_panel, stage_form, wire_job
from GPT_SoVITS.webui.tabs.format import DEFAULT_EXP, exp_dir


def experiments(ctx: AppContext) -> list[str]:
    """Experiment folders under logs/ (those with a formatted text file first)."""
    if not ctx.logs_dir.is_dir():
        return []
    names = sorted(p.name for p in ctx.logs_dir.iterdir() if p.is_dir())
    return sorted(names, key=lambda n: not (ctx.logs_dir / n / paths.NAME2TEXT).is_file())


def pretrained_defaults(ctx: AppContext, version: str) -> dict[str, str]:
    """The version's pretrained files that are present (absent ones stay empty: training starts from
    random weights for that part, and the Models tab lists what is missing)."""
    files = pretrained.VERSIONS[version]
    base = ctx.root / "pretrained_models"
    found = {"pretrained_g": files.sovits_g, "pretrained_d": files.sovits_d, "pretrained": files.gpt}
    return {k: str(base / rel) if rel and (base / rel).is_file() else "" for k, rel in found.items()}


def train_values(ctx: AppContext, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The stage's values from the tab's values by name (``exp_name``, ``version`` and the stage form's
    keys): the experiment name becomes logs/<exp>."""
    own = {k: v for k, v in values.items() if k != "exp_name"}
    return [{**own, "exp": str(exp_dir(ctx, values["exp_name"]))}]


def loss_frame(events: list[dict]) -> pd.DataFrame:
    """Long-form losses of ``metric`` events: columns step, value, series (one series per loss name)."""
    rows = [
        {"step": ev["step"], "value": float(v), "series": k}
        for ev in events
        if ev.get("event") == "metric" and "step" in ev
        for k, v in ev.items()
        if ("loss" in k or k.startswith("l_") or k in ("acc", "top3_acc")) and isinstance(v, (int, float))
    ]
    return pd.DataFrame(rows, columns=["step", "value", "series"])


def exported(ctx: AppContext, exp_name: str) -> tuple[list[str], list[str], list[str]]:
    """(SoVITS weights, GPT weights, sample wavs) of the experiment, newest first."""
    name = (exp_name or "").strip()
    if not name:
        return [], [], []
    sovits = sorted(
        (ctx.root / "SoVITS_weights").glob(f"{glob_escape(name)}_e*_s*.pth"), key=_epoch, reverse=True
    )
    gpt = sorted((ctx.root / "GPT_weights").glob(f"{glob_escape(name)}-e*.ckpt"), key=_epoch, reverse=True)
    samples = sorted(
        (ctx.logs_dir / name / "samples").glob("*.wav"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    return [str(p) for p in sovits], [str(p) for p in gpt], [str(p) for p in samples]


def glob_escape(name: str) -> str:
    return re.sub(r"([\[\]*?])", r"[\1]", name)


def _epoch(p: Path) -> int:
    m = re.search(r"[_-]e(\d+)(?:_s\d+)?$", p.stem)
    return int(m.group(1)) if m else -1


SHARED = ("exp", "version")  # one field above both trainers


def _experiment_row(ctx: AppContext) -> dict[str, Any]:
    with gr.Row():
        exp_name = gr.Dropdown(
            experiments(ctx),
            value=DEFAULT_EXP,
            label=ctx.t("arg.exp_name"),
            allow_custom_value=True,
            elem_id="train-exp",
        )
        version = gr.Dropdown(
            list(STAGES["train_sovits"].arg("version").choices),
            value=DEFAULT_VERSION.value,
            label=ctx.t("arg.version"),
            elem_id="train-version",
        )
        refresh = gr.Button(ctx.t("train.refresh"), elem_id="train-refresh")
    note = gr.Markdown(train_note(ctx, DEFAULT_VERSION.value), elem_id="train-pretrained-note")
    return {"exp_name": exp_name, "version": version, "refresh": refresh, "note": note}


def train_note(ctx: AppContext, version: str) -> str:
    return pretrained_note(ctx.root, version, ctx.t("picker.missing"))


def _trainer_group(ctx: AppContext, stage: str, shared: dict[str, Any]) -> dict[str, Any]:
    """One trainer's form, job panel and loss plot, wired; its components by ``<stage>.<key>``."""
    weights = "SoVITS_weights" if stage == "train_sovits" else "GPT_weights"
    defaults = {**pretrained_defaults(ctx, DEFAULT_VERSION.value), "weights_dir": str(ctx.root / weights)}
    with gr.Group():
        gr.Markdown(f"### {ctx.t(f'stage.{stage}')}")
        with gr.Column():
            form = stage_form(ctx, STAGES[stage], defaults, skip=SHARED)
        panel = job_panel(ctx, stage)
        plot = gr.LinePlot(x="step", y="value", color="series", label=ctx.t("train.loss"), height=240)

    def to_values(values: dict[str, Any]) -> list[dict[str, Any]]:
        return train_values(ctx, values)

    def on_poll(st: JobStatus | None) -> list[Any]:
        return [loss_frame(st.events) if st is not None else gr.update()]

    inputs = {"exp_name": shared["exp_name"], "version": shared["version"], **form}
    wire_job(ctx, panel, [stage], inputs, to_values, on_poll=on_poll, poll_outputs=[plot])
    return {f"{stage}.{k}": c for k, c in form.items()}


def _exported_section(ctx: AppContext) -> dict[str, Any]:
    gr.Markdown(f"### {ctx.t('train.exported')}")
    with gr.Row():
        sovits_files = gr.Dropdown([], label="SoVITS_weights", elem_id="train-sovits-files")
        gpt_files = gr.Dropdown([], label="GPT_weights", elem_id="train-gpt-files")
        samples = gr.Dropdown([], label=ctx.t("train.samples"), elem_id="train-samples")
    sample_audio = gr.Audio(type="filepath", label=ctx.t("train.sample"), interactive=False)
    return {"sovits_files": sovits_files, "gpt_files": gpt_files, "samples": samples, "sample": sample_audio}


def build_train_tab(ctx: AppContext) -> dict[str, Any]:
    comps = _experiment_row(ctx)
    for stage in ("train_sovits", "train_gpt"):
        comps |= _trainer_group(ctx, stage, comps)
    comps |= _exported_section(ctx)

    def on_refresh(name: str) -> tuple:
        sv, gp, sm = exported(ctx, name)
        first = sm[0] if sm else None
        return (
            gr.Dropdown(choices=experiments(ctx)),
            gr.Dropdown(choices=sv, value=sv[0] if sv else None),
            gr.Dropdown(choices=gp, value=gp[0] if gp else None),
            gr.Dropdown(choices=sm, value=first),
            first,
        )

    def on_version(v: str) -> tuple:
        d = pretrained_defaults(ctx, v)
        return d["pretrained_g"], d["pretrained_d"], d["pretrained"], train_note(ctx, v)

    listing = [comps[k] for k in ("exp_name", "sovits_files", "gpt_files", "samples", "sample")]
    comps["refresh"].click(on_refresh, [comps["exp_name"]], listing)
    comps["exp_name"].change(on_refresh, [comps["exp_name"]], listing)
    comps["samples"].change(lambda p: p, [comps["samples"]], [comps["sample"]])
    pretrained_fields = ["train_sovits.pretrained_g", "train_sovits.pretrained_d", "train_gpt.pretrained"]
    version_outputs = [*(comps[k] for k in pretrained_fields), comps["note"]]
    comps["version"].change(on_version, [comps["version"]], version_outputs)
    return comps
