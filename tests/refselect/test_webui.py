"""The Reference tab's handlers without a browser, and the tab inside the whole app."""

from __future__ import annotations

from pathlib import Path

import pytest

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.presets import PresetStore
from GPT_SoVITS.refselect import library
from GPT_SoVITS.refselect.db import Library
from GPT_SoVITS.refselect.tasks import task
from GPT_SoVITS.webui.app import build_app, make_context
from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.tabs import reference as tab
from tests.refselect.test_cli import wait_for


@pytest.fixture
def ctx(tmp_path: Path) -> AppContext:
    c = make_context("en_US", tmp_path)
    yield c
    c.runner.stop_all()


def test_the_app_builds_with_the_reference_tab(ctx: AppContext) -> None:
    demo = build_app(ctx=ctx)
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"refsel-role", "refsel-run", "refsel-score-1", "refsel-score-5", "refsel-save-preset"} <= ids
    assert tab.tab_label(ctx) == "Reference" and tab.text("zh_CN", "tab") == "参考音频"
    assert (ctx.output_dir / "refs" / "refs.db").is_file()


def test_library_handlers(ctx: AppContext, speech_dir: Path) -> None:
    lib = Library(ctx.output_dir / "refs")
    with pytest.raises(UserError, match="choose or create a role"):
        tab.import_list(lib, None, str(speech_dir / "voice.list"))
    library.create_role(lib, "alice")
    assert tab.import_list(lib, "alice", str(speech_dir / "voice.list")).startswith("3 clip(s) added")
    rows = tab.clip_table(lib, "alice")
    assert [r[0] for r in rows] == [1, 2, 3] and rows[0][4].startswith("今天")
    assert [v for _, v in tab.clip_choices(lib, "alice")] == [1, 2, 3]
    message = tab.apply_tool(lib, 1, "times", "1.2")
    assert message.startswith("new clips 4, 5") and "proportional-chars" in message
    with pytest.raises(UserError, match="times: 'x' is not a float"):
        tab.apply_tool(lib, 1, "times", "1.0, x")
    assert "1 clip(s) added" in tab.import_files(lib, "alice", [str(speech_dir / "b.wav")])


def test_comparison_form_validation(ctx: AppContext, speech_dir: Path, tiny_pair, tmp_path: Path) -> None:
    lib = Library(ctx.output_dir / "refs")
    library.create_role(lib, "alice")
    library.import_list(lib, "alice", speech_dir / "voice.list")
    knobs = {
        "temperature": "0.6, 1.0",
        "top_k": "",
        "top_p": "",
        "repetition_penalty": "",
        "speed_factor": "",
    }
    spec = tab.make_spec(
        [1, 2, 3], str(tiny_pair[0]), str(tiny_pair[1]), "你好。\n再见。", "zh", knobs, [], 3
    )
    assert spec.size() == 12 and spec.sweep == {"temperature": [0.6, 1.0]} and spec.fixed == {"seed": 3}
    with pytest.raises(UserError, match="hubert: no such folder"):
        tab.start_comparison(ctx, lib, "alice", spec, "", str(tmp_path / "nope"), "cpu")
    bad = tab.make_spec([1], str(tmp_path / "gone.ckpt"), str(tiny_pair[1]), "你好。", "zh", knobs, [], 1)
    with pytest.raises(UserError, match=r"gone\.ckpt: weights file not found"):
        tab.start_comparison(ctx, lib, "alice", bad, "", str(tmp_path), "cpu")
    with pytest.raises(UserError, match="temperature: 'hot' is not a float"):
        tab.make_spec([1], "g", "s", "x", "zh", {**knobs, "temperature": "hot"}, [], 1)


@pytest.mark.slow
def test_comparison_through_the_job_runner_then_review(
    ctx: AppContext, speech_dir: Path, tiny_pair, hubert
) -> None:
    lib = Library(ctx.output_dir / "refs")
    library.create_role(lib, "alice")
    library.import_list(lib, "alice", speech_dir / "voice.list")
    knobs = {
        "temperature": "0.6, 1.0",
        "top_k": "",
        "top_p": "",
        "repetition_penalty": "",
        "speed_factor": "",
    }
    spec = tab.make_spec([1], str(tiny_pair[0]), str(tiny_pair[1]), "你好。", "zh", knobs, [], 1)
    spec.fixed["max_retries"] = 0
    task_id, job_id = tab.start_comparison(ctx, lib, "alice", spec, "", str(hubert), "cpu")
    wait_for(lambda: task(lib, task_id)["state"] != "new", 300, "the renderer to claim the task")
    with pytest.raises(UserError, match="running comparison task"):
        library.delete_role(lib, "alice")
    st = ctx.runner.wait(job_id, timeout=600)
    assert st.state == "succeeded" and st.fraction == 1.0, st.log_tail
    assert any(label.startswith(f"#{task_id} ") and "2/2" in label for label, _ in tab.task_choices(lib))
    table = tab.result_table(lib, task_id, "duration", False, None)
    assert len(table) == 2 and table[0][2] <= table[1][2]
    audio_path, picture = tab.show_result(lib, table[0][0])
    assert Path(audio_path).is_file() and picture.size == (480, 128)
    assert tab.score_and_next(lib, table, table[0][0], 5) == table[1][0]
    assert tab.result_table(lib, task_id, "score", True, 4)[0][1] == 5
    message = tab.save_preset(lib, table[0][0], "alice-ui", ctx.output_dir / "voices")
    assert "alice-ui" in message and PresetStore(ctx.output_dir / "voices").get("alice-ui").knobs["seed"] == 1


def test_longtext_needs_a_scored_task(ctx: AppContext, tmp_path: Path) -> None:
    lib = Library(ctx.output_dir / "refs")
    with pytest.raises(UserError, match="choose a scored task"):
        tab.start_longtext(ctx, lib, None, "长文本。", 3, "", str(tmp_path), "cpu")
    with pytest.raises(UserError, match="unknown task 7"):
        tab.start_longtext(ctx, lib, 7, "长文本。", 3, "", str(tmp_path), "cpu")


def test_group_form_and_moves(ctx: AppContext, speech_dir: Path, tiny_pair, tmp_path: Path) -> None:
    lib = Library(ctx.output_dir / "refs")
    library.create_role(lib, "alice")
    library.import_list(lib, "alice", speech_dir / "voice.list")
    with pytest.raises(UserError, match="enter GPT and SoVITS weights"):
        tab.group_args(lib.root, "alice", 2, "", "", str(tmp_path), "cpu")
    with pytest.raises(UserError, match=r"gone\.pth: weights file not found"):
        tab.group_args(
            lib.root, "alice", 2, str(tiny_pair[0]), str(tmp_path / "gone.pth"), str(tmp_path), "cpu"
        )
    args = tab.group_args(lib.root, "alice", 3, str(tiny_pair[0]), str(tiny_pair[1]), str(tmp_path), "cpu")
    assert args[2:7] == ["group", "--role", "alice", "--k", "3"] and str(tiny_pair[1]) in args
    assert tab.move_to_group(lib, 2, 4) == "clip 2 moved to group 4"
    assert [row[7] for row in tab.clip_table(lib, "alice")] == ["", 4, ""]


@pytest.mark.slow
def test_grouping_through_the_job_runner(ctx: AppContext, speech_dir: Path, tiny_pair, hubert) -> None:
    lib = Library(ctx.output_dir / "refs")
    library.create_role(lib, "alice")
    library.import_list(lib, "alice", speech_dir / "voice.list")
    args = tab.group_args(lib.root, "alice", 2, str(tiny_pair[0]), str(tiny_pair[1]), str(hubert), "cpu")
    st = ctx.runner.wait(ctx.runner.start(tab.STAGE, "GPT_SoVITS.refselect", args), timeout=600)
    assert st.state == "succeeded", st.log_tail
    assert "3 clip(s) embedded now" in st.log_tail
    groups = [row[7] for row in tab.clip_table(lib, "alice")]
    assert set(groups) <= {1, 2} and len(groups) == 3
