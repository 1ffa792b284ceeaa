"""Models tab: which pretrained files each version needs, which are present, and a verified download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from GPT_SoVITS.versions import DEFAULT_VERSION, version_names
from GPT_SoVITS.webui import pretrained
from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.download import HUBS
from GPT_SoVITS.webui.stages import StageInputError
from GPT_SoVITS.webui.tabs.common import job_panel, wire_job


def status_table(pretrained_dir: Path, version: str) -> list[list[Any]]:
    """Rows (file, present, size in MB) for the version's files."""
    return [
        [s.path, "✔" if s.present else "✘", round(s.size / 1e6, 1) if s.present else ""]
        for s in pretrained.status(pretrained_dir, version)
    ]


def check_hub(hub: str) -> None:
    """The hub is a known name or an http(s) mirror URL (StageInputError otherwise)."""
    hub = (hub or "").strip()
    if hub not in HUBS and not hub.startswith(("http://", "https://")):
        raise StageInputError("hub", f"{hub!r} is neither {', '.join(HUBS)} nor an http(s) URL")


def download_values(values: dict[str, Any], pretrained_dir: Path) -> list[dict[str, Any]]:
    """The download stage's values for the tab's ``version``, ``hub`` and ``repo`` (hub checked)."""
    check_hub(values["hub"])
    return [{**values, "hub": values["hub"].strip(), "dest": str(pretrained_dir)}]


def build_models_tab(ctx: AppContext) -> dict[str, Any]:
    pdir = ctx.root / "pretrained_models"
    t = ctx.t
    gr.Markdown(t("models.help", folder=str(pdir)))
    with gr.Row():
        version = gr.Dropdown(
            list(version_names()),
            value=DEFAULT_VERSION.value,
            label=t("arg.version"),
            elem_id="models-version",
        )
        hub = gr.Dropdown(list(HUBS), value="huggingface", label=t("models.hub"), allow_custom_value=True)
        repo = gr.Textbox(label=t("models.repo"), placeholder=pretrained.HUB_REPO)
        refresh = gr.Button(t("train.refresh"), scale=0)
    table = gr.Dataframe(
        status_table(pdir, DEFAULT_VERSION.value),
        headers=[t("models.file"), t("models.present"), "MB"],
        interactive=False,
        elem_id="models-table",
    )
    panel = job_panel(ctx, "models", t("models.download"))

    def to_values(values: dict[str, Any]) -> list[dict[str, Any]]:
        return download_values(values, pdir)

    def on_poll(st: Any) -> list[Any]:
        if st is None:
            return [gr.update()]
        return [status_table(pdir, st.outputs.get("version", DEFAULT_VERSION.value))]

    inputs = {"version": version, "hub": hub, "repo": repo}
    wire_job(ctx, panel, ["download"], inputs, to_values, on_poll=on_poll, poll_outputs=[table])
    refresh.click(lambda v: status_table(pdir, v), [version], [table])
    version.change(lambda v: status_table(pdir, v), [version], [table])
    return {"version": version, "hub": hub, "repo": repo, "table": table}
