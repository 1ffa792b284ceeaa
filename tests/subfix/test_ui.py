"""The label editor's handlers without a browser: texts typed on a page survive every action."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from GPT_SoVITS.webui.i18n import I18n
from subfix import editor
from subfix.actions import Params, act
from subfix.editor import EditorError
from subfix.ui import render

ROWS = 3
SR = 16000


@pytest.fixture
def doc(tmp_path: Path) -> editor.Document:
    lines = []
    for i in range(7):
        p = tmp_path / f"c{i}.wav"
        t = np.arange(SR) / SR
        sf.write(p, (0.2 * np.sin(2 * np.pi * (200 + 50 * i) * t)).astype(np.float32), SR)
        lines.append(f"{p}|spk|en|line {i} text")
    lines.insert(4, "garbage without fields")
    path = tmp_path / "x.list"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return editor.load(path)


def texts_of(d: editor.Document, page: int) -> list[str]:
    return [r.text for _, r in editor.page(d, page, ROWS)]


def test_typed_text_survives_paging(doc: editor.Document) -> None:
    typed = ["edited zero", *texts_of(doc, 0)[1:]]
    d, page, _ = act("next", doc, 0, ROWS, typed, [False] * ROWS, Params())
    assert page == 1 and d.rows[0].text == "edited zero"
    d, page, _ = act("prev", d, page, ROWS, texts_of(d, 1), [False] * ROWS, Params())
    assert page == 0 and texts_of(d, 0)[0] == "edited zero"
    d, page, _ = act("next", d, 0, ROWS, texts_of(d, 0), [False] * ROWS, Params())
    d, page, _ = act("next", d, page, ROWS, texts_of(d, page), [False] * ROWS, Params())
    d, page, _ = act("next", d, page, ROWS, texts_of(d, page), [False] * ROWS, Params())
    assert page == 2  # 8 rows, 3 per page: the last page is 2


def test_merge_split_delete_undo_save(doc: editor.Document) -> None:
    page0 = texts_of(doc, 0)
    d, _, status = act("merge", doc, 0, ROWS, page0, [True, True, False], Params(silence=0.1))
    assert d.rows[0].text == "line 0 text line 1 text" and "merged" in status
    assert sf.info(d.rows[0].entry.path).frames == 2 * SR + round(0.1 * SR)
    cut = Params(slot=1, cursor=4, split_at=0.25, text_mode="cursor")
    d2, _, _ = act("split", d, 0, ROWS, texts_of(d, 0), [False] * ROWS, cut)
    assert [d2.rows[1].text, d2.rows[2].text] == ["line", "2 text"]
    dup = Params(target=0, split_at=0.5, text_mode="duplicate")
    d3, _, _ = act("split", d2, 0, ROWS, texts_of(d2, 0), [False] * ROWS, dup)
    assert d3.rows[0].text == d3.rows[1].text
    d4, _, _ = act("delete", d3, 0, ROWS, texts_of(d3, 0), [False, True, False], Params())
    assert len(d4) == len(d3) - 1
    d5, _, _ = act("undo", d4, 0, ROWS, texts_of(d4, 0), [False] * ROWS, Params())
    assert d5.rows == d3.rows
    saved, _, status = act("save", d5, 0, ROWS, texts_of(d5, 0), [False] * ROWS, Params())
    assert not saved.dirty and "saved" in status
    lines = doc.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(d5) and "garbage without fields" in lines
    assert lines[0].endswith("|line 0 text line 1 text")
    assert Path(str(doc.path) + ".bak").is_file()


def test_errors_name_the_problem(doc: editor.Document) -> None:
    blank = [False] * ROWS
    with pytest.raises(EditorError, match="click into the text"):
        act("split", doc, 0, ROWS, texts_of(doc, 0), blank, Params(text_mode="cursor", split_at=0.5))
    with pytest.raises(EditorError, match="at least two"):
        act("merge", doc, 0, ROWS, texts_of(doc, 0), [True, False, False], Params())
    with pytest.raises(EditorError, match="does not exist"):
        act("goto", doc, 0, ROWS, texts_of(doc, 0), blank, Params(target=99))
    with pytest.raises(EditorError, match=r"open a \.list"):
        act("next", None, 0, ROWS, [], [], Params())


def test_search_and_goto(doc: editor.Document) -> None:
    d, page, status = act("search", doc, 0, ROWS, texts_of(doc, 0), [False] * ROWS, Params(query="LINE 6"))
    assert page == editor.page_of(7, ROWS) and "1 match" in status
    d, page, _ = act("goto", d, page, ROWS, texts_of(d, page), [False] * ROWS, Params(target=4))
    assert page == 1


def test_render_shows_invalid_rows_read_only(doc: editor.Document) -> None:
    info, slots = render(doc, 1, ROWS, I18n("en_US"))
    assert "Page 2/3" in info and len(slots) == ROWS
    garbage = slots[1]  # slot 1 of page 1 = row 4, the garbage line
    assert "expected 4 fields" in garbage["label"] and garbage["text"]["interactive"] is False
    assert garbage["audio"] is None
    first = slots[0]
    assert 'data-row="3"' in first["label"] and "1.00 s" in first["label"]
    assert first["text"]["value"] == "line 3 text" and Path(first["audio"]).is_file()
    assert first["image"].size == (240, 56)
    _, last_page = render(doc, 2, ROWS, I18n("en_US"))
    assert last_page[2]["text"]["visible"] is False  # 8 rows: the last page has two
    # the slot of a row that does not exist is hidden as a whole, those that exist are shown
    assert [v["row"]["visible"] for v in last_page] == [True, True, False]
    _, nothing = render(None, 0, ROWS, I18n("en_US"))
    assert not any(v["row"]["visible"] for v in nothing)


def test_params_from_the_named_inputs() -> None:
    """The split button sends the browser's remembered cursor as JSON in the ``cursor`` input."""
    p = Params.from_inputs({"cursor": '{"slot": 2, "pos": 7}', "split_at": 0.5, "text_mode": "cursor"})
    assert (p.slot, p.cursor, p.split_at, p.target) == (2, 7, 0.5, -1)
    none_yet = Params.from_inputs({"cursor": "", "target": 3, "text_mode": "duplicate", "text_0": "x"})
    assert (none_yet.slot, none_yet.cursor, none_yet.target) == (-1, -1, 3)


def test_status_lines_in_the_ui_language(doc: editor.Document) -> None:
    zh = I18n("zh_CN")
    page0 = texts_of(doc, 0)
    _, _, status = act("merge", doc, 0, ROWS, page0, [True, True, False], Params(silence=0.1), zh)
    assert status == zh("subfix.merged", rows="0, 1") and status != I18n("en_US")(
        "subfix.merged", rows="0, 1"
    )
    with pytest.raises(EditorError) as e:
        act("split", doc, 0, ROWS, page0, [False] * ROWS, Params(text_mode="cursor"), zh)
    assert str(e.value) == zh("subfix.need_cursor")


def test_every_action_of_the_table_has_a_button() -> None:
    import gradio as gr

    from subfix.actions import ACTIONS
    from subfix.ui import build_label_tab

    with gr.Blocks():
        comps = build_label_tab(I18n("en_US"), rows=2)
    assert set(comps["buttons"]) == set(ACTIONS)  # the table and the buttons are the same set
    assert comps["buttons"]["search"].elem_id == "subfix-find"


def test_standalone_cli_refuses_a_missing_list(tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "subfix", "--list", str(tmp_path / "none.list")]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=repo, timeout=60)
    assert out.returncode == 2 and "none.list: no such .list file" in out.stderr


def test_a_reload_reopens_the_file_on_its_page(doc: editor.Document, tmp_path: Path) -> None:
    """The browser remembers what on_load and paging stored; on_restore (the page load) reopens it."""
    import gradio as gr

    from subfix.ui import build_label_tab

    with gr.Blocks() as demo:
        comps = build_label_tab(I18n("en_US"), rows=ROWS)
    restore = [f for f in demo.fns.values() if f.fn == comps["on_restore"]]
    assert restore and comps["remember"] in restore[0].inputs  # wired to the page load
    *_shown, stored = comps["on_load"](str(doc.path), "")
    assert stored == {"path": str(doc.path), "root": "", "page": 0}
    n_out = len(comps["outputs"])
    path_box, _root, d, page, info, *_ = comps["on_restore"]({**stored, "page": 2}, "")
    assert path_box == str(doc.path) and page == 2 and len(d) == len(doc) and "Page 3/3" in info
    # a page past the end (the file shrank) lands on the last page; a vanished file opens the path box's
    assert comps["on_restore"]({**stored, "page": 9}, "")[3] == 2
    other = tmp_path / "other.list"
    other.write_text(doc.path.read_text(encoding="utf-8"), encoding="utf-8")
    out = comps["on_restore"]({**stored, "path": str(tmp_path / "gone.list")}, str(other))
    assert out[0] == str(other) and out[3] == 0
    # paging updates what the browser remembers
    on_page = [f.fn for f in demo.fns.values() if f.outputs == [comps["remember"]] and len(f.inputs) == 3]
    assert on_page and on_page[0](doc, 1, stored) == {**stored, "page": 1}
    assert on_page[0](None, 1, stored) == gr.update()
    # nothing stored and no file in the box: the page stays as it is
    assert comps["on_restore"](None, "") == [gr.update()] * (2 + n_out)
