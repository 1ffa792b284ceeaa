"""Format tab: experiment name + .list -> one click runs prepare.text, .hubert, .semantic, then a report."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gradio as gr

from GPT_SoVITS import paths
from GPT_SoVITS.listfile import ListFileError, parse_list
from GPT_SoVITS.versions import DEFAULT_VERSION
from GPT_SoVITS.webui import pretrained
from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.i18n import I18n
from GPT_SoVITS.webui.pickers import list_files, output_folders, pretrained_note, pretrained_paths
from GPT_SoVITS.webui.runner import JobStatus
from GPT_SoVITS.webui.stages import PRECISIONS, STAGES, VERSIONS, StageInputError
from GPT_SoVITS.webui.tabs.common import device_choices, job_panel, wire_job
from GPT_SoVITS.webui.tabs.dataprep import default_list

_EXP_NAME = re.compile(r"^[\w.\-]+$")


def exp_dir(ctx: AppContext, name: str) -> Path:
    """``logs/<name>``; the name must be a plain folder name (it also names the exported weights)."""
    name = (name or "").strip()
    if not name or not _EXP_NAME.match(name) or name in (".", ".."):
        raise StageInputError("exp_name", f"{name!r} is not a valid experiment name (letters, digits, _ . -)")
    return ctx.logs_dir / name


DEFAULT_EXP = "my_voice"  # the experiment name a fresh page starts with (Format and Train tabs)
FORMAT_STAGES = ("prepare_text", "prepare_hubert", "prepare_semantic")


def format_values(ctx: AppContext, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The values of the three formatting stages, in order (validated by build_argv when started), from
    the tab's values by name: ``exp_name``, ``version``, and the stages' own keys (``list``, ``bert``...);
    each stage takes the keys it has."""
    exp = str(exp_dir(ctx, values["exp_name"]))
    version = values["version"]
    if version not in VERSIONS:
        raise StageInputError("version", f"unknown version {version!r}")
    s2g = ctx.root / "pretrained_models" / pretrained.VERSIONS[version].sovits_g
    given = {**values, "exp": exp, "pretrained_sovits": str(s2g)}
    return [{a.key: given[a.key] for a in STAGES[k].args if a.key in given} for k in FORMAT_STAGES]


def _count_lines(path: Path) -> int:
    if not path.is_file():
        return 0
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def _count_files(folder: Path, suffix: str) -> int:
    return len(list(folder.glob(f"*{suffix}"))) if folder.is_dir() else 0


def experiment_report(exp: Path, list_path: Path, t: I18n | None = None) -> str:
    """Markdown table: items in the list vs items each stage produced, and the list's bad lines."""
    t = t or I18n("en_US")
    try:
        lines = parse_list(list_path)
    except ListFileError as e:
        return f"⚠ {e}"
    good = [ln for ln in lines if ln.ok]
    bad = [ln for ln in lines if not ln.ok]
    rows = [
        (t("format.list_items"), len(good)),
        (paths.NAME2TEXT, _count_lines(exp / paths.NAME2TEXT)),
        (paths.BERT_DIR, _count_files(exp / paths.BERT_DIR, ".pt")),
        (paths.HUBERT_DIR, _count_files(exp / paths.HUBERT_DIR, ".pt")),
        (paths.WAV32K_DIR, _count_files(exp / paths.WAV32K_DIR, ".wav")),
        # the official tsv starts with a header line
        (paths.NAME2SEMANTIC, max(0, _count_lines(exp / paths.NAME2SEMANTIC) - 1)),
    ]
    out = [f"| | {t('format.items')} |", "|---|---|", *(f"| {name} | {n} |" for name, n in rows)]
    if bad:
        out.append("")
        out += [f"- {t('format.bad_line', n=ln.line_no)}: {'; '.join(ln.errors)}" for ln in bad[:20]]
    return "\n".join(out)


def format_pretrained(ctx: AppContext, version: str) -> tuple[str, str, str]:
    """(BERT folder, HuBERT folder, missing-files note) for ``version`` under ``<root>/pretrained_models``;
    an absent folder keeps its expected path, so the note and the stage's error both name it."""
    base = ctx.root / "pretrained_models"
    found = pretrained_paths(ctx.root, version)
    bert_dir = found["bert"] or str(base / Path(pretrained.BERT[0]).parent)
    hubert_dir = found["hubert"] or str(base / Path(pretrained.HUBERT[0]).parent)
    return bert_dir, hubert_dir, pretrained_note(ctx.root, version, ctx.t("picker.missing"))


def build_format_tab(ctx: AppContext) -> dict[str, Any]:
    with gr.Row():
        exp_name = gr.Textbox(label=ctx.t("arg.exp_name"), value=DEFAULT_EXP, elem_id="format-exp")
        version = gr.Dropdown(
            list(VERSIONS), value=DEFAULT_VERSION.value, label=ctx.t("arg.version"), elem_id="format-version"
        )
        device = gr.Dropdown(
            device_choices(),
            value="auto",
            label=ctx.t("arg.device"),
            elem_id="format-device",
            allow_custom_value=True,
        )
        precision = gr.Dropdown(
            list(PRECISIONS), value="fp32", label=ctx.t("arg.precision"), elem_id="format-precision"
        )
    with gr.Row():
        list_path = gr.Dropdown(
            list_files(ctx.root),
            value=default_list(ctx),
            label=ctx.t("arg.list"),
            allow_custom_value=True,
            elem_id="format-list",
        )
        audio_root = gr.Dropdown(
            output_folders(ctx.root),
            value=None,
            label=ctx.t("arg.audio_root"),
            allow_custom_value=True,
            elem_id="format-audio-root",
        )
    first = format_pretrained(ctx, DEFAULT_VERSION.value)
    with gr.Row():
        bert = gr.Textbox(label=ctx.t("arg.bert"), value=first[0], elem_id="format-bert")
        hubert = gr.Textbox(label=ctx.t("arg.hubert"), value=first[1], elem_id="format-hubert")
    note = gr.Markdown(first[2], elem_id="format-pretrained-note")
    refresh = gr.Button(ctx.t("train.refresh"), elem_id="format-refresh", size="sm")
    panel = job_panel(ctx, "format", ctx.t("format.run"))
    report = gr.Markdown(elem_id="format-report")
    exp_out = gr.Textbox(visible=False, elem_id="format-exp-out")

    def on_success(st: JobStatus) -> list[Any]:
        exp = Path(st.outputs["exp"])
        return [experiment_report(exp, Path(st.outputs["list"]), ctx.t), exp.name]

    def to_values(values: dict[str, Any]) -> list[dict[str, Any]]:
        return format_values(ctx, values)

    inputs = {"exp_name": exp_name, "list": list_path, "audio_root": audio_root, "version": version}
    inputs |= {"bert": bert, "hubert": hubert, "device": device, "precision": precision}
    wire_job(ctx, panel, FORMAT_STAGES, inputs, to_values, on_success, [report, exp_out])
    version.change(lambda v: format_pretrained(ctx, v), [version], [bert, hubert, note])
    refresh.click(
        lambda: (gr.Dropdown(choices=list_files(ctx.root)), gr.Dropdown(choices=output_folders(ctx.root))),
        None,
        [list_path, audio_root],
    )
    return {"exp_name": exp_name, "list": list_path, "version": version, "report": report, "exp_out": exp_out}
