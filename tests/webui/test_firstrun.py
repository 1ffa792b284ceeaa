"""First run: every path field is prefilled or is a picker of what exists, and pretrained files follow the
version. Handlers and built components are checked without a browser."""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr
import pytest

from GPT_SoVITS import pretrained
from GPT_SoVITS.webui import pickers
from GPT_SoVITS.webui.app import build_app, make_context
from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.stages import STAGES
from GPT_SoVITS.webui.tabs import format as fmt
from GPT_SoVITS.webui.tabs import train
from subfix.ui import build_label_tab

# Hand-built fields that take a path (stage forms are found by kind: elem_id ``<stage>-<key>``).
PATH_FIELDS = (
    "format-list", "format-audio-root", "format-bert", "format-hubert", "train-exp",
    "infer-gpt", "infer-sovits", "infer-bert", "infer-hubert",
    "refsel-list-path", "refsel-gpt", "refsel-sovits", "refsel-bert", "refsel-hubert",
    "subfix-path", "subfix-root", "asr-model",
)  # fmt: skip


def _touch(path: Path, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _stand_in_pretrained(root: Path, version: str) -> None:
    for rel in pretrained.VERSIONS[version].all():
        _touch(root / "pretrained_models" / rel)


@pytest.fixture
def ctx(tmp_path: Path) -> AppContext:
    c = make_context("en_US", tmp_path)
    yield c
    c.runner.stop_all()


def _by_id(demo: gr.Blocks) -> dict[str, object]:
    return {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}


def test_pickers_list_what_exists_newest_first(tmp_path: Path) -> None:
    old = _touch(tmp_path / "output" / "asr_opt" / "old.list", 1_000_000)
    new = _touch(tmp_path / "output" / "asr_opt" / "new.list", 2_000_000)
    assert pickers.list_files(tmp_path) == [str(new), str(old)]
    a = _touch(tmp_path / "SoVITS_weights" / "a_e4_s8.pth", 1_000_000)
    b = _touch(tmp_path / "SoVITS_weights_v2" / "b_e8_s16.pth", 3_000_000)
    g = _touch(tmp_path / "GPT_weights_v2" / "b-e5.ckpt")
    assert pickers.weight_files(tmp_path, "sovits") == [str(b), str(a)]
    assert pickers.weight_files(tmp_path, "gpt") == [str(g)]
    (tmp_path / "logs" / "voice").mkdir(parents=True)
    (tmp_path / "logs" / "webui-jobs").mkdir()
    assert pickers.experiment_folders(tmp_path) == [str(tmp_path / "logs" / "voice")]
    assert pickers.path_choices(tmp_path, "list", "file_in") == [str(new), str(old)]
    assert pickers.path_choices(tmp_path, "pretrained_g", "file_in") == [str(b), str(a)]
    assert pickers.newest_weight(tmp_path, "sovits", "v2") == str(b)


def test_pretrained_files_follow_the_version(ctx: AppContext) -> None:
    root = ctx.root
    bert, _hubert, note = fmt.format_pretrained(ctx, "v2")
    assert bert == str(root / "pretrained_models" / "chinese-roberta-wwm-ext-large")
    assert "Models tab" in note and "gsv-v2final-pretrained/s2G2333k.pth" in note
    assert train.pretrained_defaults(ctx, "v2") == {"pretrained_g": "", "pretrained_d": "", "pretrained": ""}
    _stand_in_pretrained(root, "v2")
    assert fmt.format_pretrained(ctx, "v2")[2] == "" and train.train_note(ctx, "v2") == ""
    d = train.pretrained_defaults(ctx, "v2")
    assert d["pretrained_g"] == str(root / "pretrained_models" / pretrained.VERSIONS["v2"].sovits_g)
    assert Path(d["pretrained"]).is_file()
    # switching to a version whose files are absent names them and empties the fields
    assert "s2Gv4.pth" in train.train_note(ctx, "v4")
    assert train.pretrained_defaults(ctx, "v4")["pretrained_g"] == ""
    assert pickers.newest_weight(root, "gpt", "v2") == d["pretrained"]


def _app(ctx: AppContext) -> gr.Blocks:
    return build_app("en_US", ctx=ctx, label_tab=build_label_tab)


def test_stages_default_to_the_previous_output_and_share_the_experiment(ctx: AppContext) -> None:
    _stand_in_pretrained(ctx.root, "v2")
    demo = _app(ctx)
    comps = _by_id(demo)
    out = ctx.root / "output"
    assert comps["asr-input"].value == str(out / "slicer_opt")
    assert comps["format-list"].value == str(out / "asr_opt" / "slicer_opt.list")
    assert comps["subfix-path"].value == comps["format-list"].value
    assert comps["train-exp"].value == comps["format-exp"].value
    assert comps["train_sovits-pretrained_g"].value.endswith(pretrained.VERSIONS["v2"].sovits_g)
    assert Path(comps["format-hubert"].value).is_dir()
    # naming the experiment in Format names it in Train
    carry = [
        f
        for f in demo.fns.values()
        if [getattr(i, "elem_id", None) for i in f.inputs] == ["format-exp"]
        and [getattr(o, "elem_id", None) for o in f.outputs] == ["train-exp"]
    ]
    assert carry and carry[0].fn("voice2") == "voice2"


def test_refresh_finds_files_made_after_the_page_was_built(ctx: AppContext) -> None:
    from GPT_SoVITS.webui.tabs.common import refresh_paths

    spec = STAGES["train_sovits"]
    assert refresh_paths(ctx, spec, ["pretrained_g"])[0].choices == []
    w = _touch(ctx.root / "SoVITS_weights_v2" / "me_e4_s8.pth")
    assert [c[0] for c in refresh_paths(ctx, spec, ["pretrained_g"])[0].choices] == [str(w)]


def _path_fields(demo: gr.Blocks) -> dict[str, object]:
    comps = _by_id(demo)
    found = {k: comps[k] for k in PATH_FIELDS}
    for spec in STAGES.values():
        for arg in spec.args:
            key = f"{spec.key}-{arg.key}"
            if arg.kind in pickers.PATH_KINDS and key in comps:
                found[key] = comps[key]
    return found


def test_every_path_field_has_a_default_or_a_picker(ctx: AppContext) -> None:
    """A fresh install with the pretrained files present: no path field is an empty box to type in."""
    _stand_in_pretrained(ctx.root, "v2")
    fields = _path_fields(_app(ctx))
    assert {"slice-input", "asr-input", "train_gpt-pretrained", "format-list"} <= set(fields)
    bare = [
        k
        for k, c in fields.items()
        if not (isinstance(c, gr.Dropdown) and c.allow_custom_value) and not str(c.value or "").strip()
    ]
    assert not bare, f"path fields with neither a default nor a picker: {bare}"
    # the convention covers every field labelled as a path value
    labels = {ctx.t(f"arg.{a.key}") for s in STAGES.values() for a in s.args if a.kind in pickers.PATH_KINDS}
    labelled = [
        b.elem_id
        for b in _app(ctx).blocks.values()
        if isinstance(b, (gr.Textbox, gr.Dropdown)) and b.label in labels and b.elem_id
    ]
    missing = [e for e in labelled if e not in fields]
    assert not missing, f"path fields not listed in PATH_FIELDS: {missing}"
