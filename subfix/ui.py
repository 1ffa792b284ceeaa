"""The SubFix label editor as a Gradio tab: pages of rows, edits kept across pages, merge/split/delete/undo.

Each browser session has its own :class:`subfix.editor.Document` in a ``gr.State``. Every action first
applies the texts currently in the page's text boxes, so nothing typed is lost when paging or saving even
without a submit button; typing also updates the document as you go. Events of the editor share one queue
slot so that a text update and a click never work on the same document at once.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from GPT_SoVITS.webui.i18n import I18n
from subfix import editor
from subfix.editor import Document, EditorError

ROWS = 10
CONCURRENCY_ID = "subfix"  # all editor events run one at a time: no two may read and write a Document at once

# Remembers the text box and cursor position the user last worked in, so "split at cursor" knows both.
HEAD = """
<script>
(() => {
  const note = (e) => {
    const el = e.target;
    if (!el || !el.closest) return;
    const box = el.closest('[id^="subfix-text-"]');
    if (box && typeof el.selectionStart === "number") {
      window.__subfixCursor = {slot: parseInt(box.id.slice(12)), pos: el.selectionStart};
    }
  };
  for (const ev of ["keyup", "mouseup", "focusin", "select"]) document.addEventListener(ev, note, true);
})();
</script>
"""

# js of the split button: replace the row and cursor inputs by the remembered text cursor, if any.
SPLIT_JS = """
(...args) => {
  const c = window.__subfixCursor;
  const n = args.length;
  if (c && args[n - 1] === "cursor") { args[n - 4] = c.slot; args[n - 3] = c.pos; args[n - 5] = -1; }
  return args;
}
"""


@dataclass
class Params:
    """The action inputs besides texts and selections."""

    target: float = -1  # goto: row index; split in "duplicate" mode: row index
    slot: float = -1  # split in "cursor" mode: slot of the page whose text box holds the cursor
    cursor: float = -1  # split in "cursor" mode: character position of the cut
    split_at: float = 0.0  # split: seconds
    text_mode: str = "cursor"  # split: "cursor" | "duplicate"
    silence: float = 0.3  # merge: seconds between clips
    query: str = ""


def page_indices(doc: Document, page: int, rows: int) -> list[int]:
    return [i for i, _ in editor.page(doc, page, rows)]


def apply_texts(doc: Document, page: int, rows: int, texts: list[str]) -> Document:
    """The document with the page's text boxes applied (one undo step; unchanged texts are no step)."""
    edits = {}
    for idx, text in zip(page_indices(doc, page, rows), texts, strict=False):
        if doc.rows[idx].entry is not None and text is not None:
            edits[idx] = text
    return editor.edit_texts(doc, edits)


def _split_target(doc: Document, page: int, rows: int, p: Params) -> tuple[int, int | None]:
    """(row, text cursor or None) of a split: the text box holding the cursor, or the row number field."""
    if p.text_mode == "cursor":
        if p.slot is None or p.slot < 0 or p.cursor is None or p.cursor < 0:
            raise EditorError("click into the text where it should be cut, then press split")
        indices = page_indices(doc, page, rows)
        if int(p.slot) >= len(indices):
            raise EditorError(f"there is no row in slot {int(p.slot)} of this page")
        return indices[int(p.slot)], int(p.cursor)
    if p.target is None or p.target < 0:
        raise EditorError("enter the number of the row to split")
    return int(p.target), None


def act(
    action: str, doc: Document | None, page: int, rows: int, texts: list[str], checks: list[bool], p: Params
) -> tuple[Document | None, int, str]:
    """Apply the page's texts, then ``action``; returns (document, page, status line). EditorError on a bad
    request (the caller shows it and keeps the previous document)."""
    if doc is None:
        raise EditorError("open a .list file first")
    doc = apply_texts(doc, page, rows, texts)
    selected = [i for i, on in zip(page_indices(doc, page, rows), checks, strict=False) if on]
    last = editor.page_count(doc, rows) - 1
    status = ""
    if action == "prev":
        page = max(0, page - 1)
    elif action == "next":
        page = min(last, page + 1)
    elif action == "goto":
        if not 0 <= int(p.target) < len(doc):
            raise EditorError(f"row {int(p.target)} does not exist (0 .. {len(doc) - 1})")
        page = editor.page_of(int(p.target), rows)
    elif action == "search":
        found = editor.search(doc, p.query)
        if not found:
            return doc, page, f"no row contains {p.query!r}"
        start = (page + 1) * rows
        target = next((i for i in found if i >= start), found[0])
        page = editor.page_of(target, rows)
        status = f"{len(found)} match(es): rows {', '.join(map(str, found[:20]))}"
    elif action == "merge":
        doc = editor.merge(doc, selected, p.silence)
        status = f"merged rows {', '.join(map(str, selected))}"
    elif action == "split":
        row, cursor = _split_target(doc, page, rows, p)
        doc = editor.split(doc, row, float(p.split_at), cursor)
        status = f"split row {row} at {float(p.split_at):.2f} s"
    elif action == "delete":
        doc = editor.delete(doc, selected)
        status = f"deleted rows {', '.join(map(str, selected))} (audio kept on disk)"
    elif action == "undo":
        doc = editor.undo(doc)
    elif action == "redo":
        doc = editor.redo(doc)
    elif action == "save":
        doc = editor.save(doc)
        status = f"saved {len(doc)} lines to {doc.path} (previous version: {doc.path.name}.bak)"
    elif action != "apply":
        raise EditorError(f"unknown action {action!r}")
    page = min(page, editor.page_count(doc, rows) - 1)
    return doc, page, status


@functools.lru_cache(maxsize=512)
def _thumb(path: str, mtime: float) -> Any:
    from GPT_SoVITS.webui.plots import spectrogram_image

    return spectrogram_image(path, 240, 56)


def _duration(path: Path) -> float:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (OSError, RuntimeError):
        return 0.0
    return info.frames / info.samplerate


def thumbnail(path: Path) -> Any:
    try:
        return _thumb(str(path), path.stat().st_mtime)
    except (OSError, RuntimeError, ValueError):
        return None


def render(doc: Document | None, page: int, rows: int, t: I18n, status: str = "") -> list[Any]:
    """Outputs: info line, then per slot (label html, text box, audio, thumbnail, select box)."""
    out: list[Any] = []
    if doc is None:
        out.append(t("subfix.none"))
        for _ in range(rows):
            out += [
                gr.update(value=""),
                gr.update(value="", visible=False),
                None,
                None,
                gr.update(value=False),
            ]
        return out
    dirty = " ●" if doc.dirty else ""
    info = t(
        "subfix.page", page=page + 1, pages=editor.page_count(doc, rows), rows=len(doc), path=str(doc.path)
    )
    out.append(f"{info}{dirty}" + (f"  \n{status}" if status else ""))
    items = editor.page(doc, page, rows)
    for slot in range(rows):
        if slot >= len(items):
            out += [
                gr.update(value=""),
                gr.update(value="", visible=False),
                None,
                None,
                gr.update(value=False),
            ]
            continue
        idx, row = items[slot]
        errors = (
            f' <span class="subfix-err">⚠ {html.escape("; ".join(row.errors))}</span>' if row.errors else ""
        )
        name = html.escape(Path(row.entry.path).name) if row.entry else ""
        audio_path = editor.resolve_audio_path(doc, idx)
        playable = audio_path is not None and audio_path.is_file()
        seconds = f" · {_duration(audio_path):.2f} s" if playable else ""
        label = f'<span class="subfix-idx" data-row="{idx}">#{idx}</span> {name}{seconds}{errors}'
        out += [
            label,
            gr.update(value=row.text, visible=True, interactive=row.entry is not None),
            str(audio_path) if playable else None,
            thumbnail(audio_path) if playable else None,
            gr.update(value=False),
        ]
    return out


def _load_audio(path: Path) -> tuple[int, Any] | None:
    """(sample rate, samples) for a player; played from memory so any folder works without allowed_paths."""
    import soundfile as sf

    try:
        wav, sr = sf.read(str(path), dtype="int16")
    except (OSError, RuntimeError):
        return None
    return int(sr), wav


def build_label_tab(t: I18n, default_list: str = "", rows: int = ROWS) -> dict[str, Any]:
    """The editor's components; must be called inside a ``gr.Blocks`` (the launcher adds ``HEAD`` to it)."""
    doc_state = gr.State(None)
    page_state = gr.State(0)
    with gr.Row():
        path = gr.Textbox(default_list, label=t("subfix.list"), elem_id="subfix-path", scale=4)
        root = gr.Textbox(label=t("arg.audio_root"), elem_id="subfix-root", scale=2)
        load = gr.Button(t("subfix.load"), variant="primary", elem_id="subfix-load", scale=0)
    info = gr.Markdown(t("subfix.none"), elem_id="subfix-info")
    with gr.Row():
        prev = gr.Button(t("subfix.prev"), elem_id="subfix-prev", scale=0)
        nxt = gr.Button(t("subfix.next"), elem_id="subfix-next", scale=0)
        goto_n = gr.Number(
            0, precision=0, label=t("subfix.row"), elem_id="subfix-goto", scale=0, min_width=100
        )
        goto = gr.Button(t("subfix.goto"), elem_id="subfix-goto-btn", scale=0)
        query = gr.Textbox(label=t("subfix.search"), elem_id="subfix-query", scale=2)
        find = gr.Button(t("subfix.find"), elem_id="subfix-find", scale=0)
    slots = []
    for i in range(rows):
        with gr.Row(equal_height=True):
            label = gr.HTML(elem_id=f"subfix-label-{i}", min_height=20)
            text = gr.Textbox(show_label=False, elem_id=f"subfix-text-{i}", scale=5, visible=False)
            audio = gr.Audio(
                type="numpy", interactive=False, show_label=False, elem_id=f"subfix-audio-{i}", scale=3
            )
            image = gr.Image(type="pil", interactive=False, show_label=False, height=60, scale=2)
            sel = gr.Checkbox(label=t("subfix.select"), elem_id=f"subfix-sel-{i}", scale=0, min_width=80)
        slots.append((label, text, audio, image, sel))
    with gr.Row():
        silence = gr.Number(0.3, label=t("subfix.silence"), elem_id="subfix-silence", scale=0, min_width=120)
        merge = gr.Button(t("subfix.merge"), elem_id="subfix-merge")
        delete = gr.Button(t("subfix.delete"), elem_id="subfix-delete")
        undo = gr.Button(t("subfix.undo"), elem_id="subfix-undo")
        redo = gr.Button(t("subfix.redo"), elem_id="subfix-redo")
        save = gr.Button(t("subfix.save"), variant="primary", elem_id="subfix-save")
    with gr.Row():
        mode = gr.Radio(
            [(t("subfix.split_cursor"), "cursor"), (t("subfix.split_dup"), "duplicate")],
            value="cursor",
            label=t("subfix.split_text"),
            elem_id="subfix-split-mode",
        )
        split_row = gr.Number(-1, precision=0, label=t("subfix.split_row"), elem_id="subfix-split-row")
        split_at = gr.Number(1.0, label=t("subfix.split_at"), elem_id="subfix-split-at")
        split = gr.Button(t("subfix.split"), elem_id="subfix-split")
    slot_in = gr.Number(-1, precision=0, visible=False)
    cursor_in = gr.Number(-1, precision=0, visible=False)

    texts = [s[1] for s in slots]
    checks = [s[4] for s in slots]
    flat_out = [c for s in slots for c in s]
    outputs = [doc_state, page_state, info, *flat_out]

    def show(doc: Document | None, page: int, status: str = "") -> list[Any]:
        parts = render(doc, page, rows, t, status)
        # players get the samples, not the path (see _load_audio)
        for s in range(rows):
            pos = 1 + s * 5 + 2
            if isinstance(parts[pos], str):
                parts[pos] = _load_audio(Path(parts[pos]))
        return [doc, page, *parts]

    def handler(action: str, extra: list[str]) -> Any:
        def fn(doc: Document | None, page: int, *vals: Any) -> list[Any]:
            tx, ck, ex = list(vals[:rows]), list(vals[rows : 2 * rows]), vals[2 * rows :]
            params = Params(**dict(zip(extra, ex, strict=True)))
            if doc is not None:
                doc = apply_texts(doc, page, rows, tx)  # kept even when the action fails
            try:
                doc, page, status = act(action, doc, page, rows, tx, ck, params)
            except EditorError as e:
                gr.Warning(str(e))
                return show(doc, page, f"⚠ {e}")
            return show(doc, page, status)

        return fn

    def wire(button: Any, action: str, extra: list[tuple[str, Any]], js: str | None = None) -> None:
        inputs = [doc_state, page_state, *texts, *checks, *(c for _, c in extra)]
        button.click(
            handler(action, [k for k, _ in extra]), inputs, outputs, js=js, concurrency_id=CONCURRENCY_ID
        )

    for button, action in ((prev, "prev"), (nxt, "next"), (merge, "merge"), (delete, "delete")):
        wire(button, action, [("silence", silence)] if action == "merge" else [])
    for button, action in ((undo, "undo"), (redo, "redo"), (save, "save")):
        wire(button, action, [])
    wire(goto, "goto", [("target", goto_n)])
    wire(find, "search", [("query", query)])
    split_extra = [("target", split_row), ("slot", slot_in), ("cursor", cursor_in), ("split_at", split_at)]
    wire(split, "split", [*split_extra, ("text_mode", mode)], js=SPLIT_JS)

    def on_load(p: str, r: str) -> list[Any]:
        try:
            doc = editor.load(Path(p.strip()), Path(r.strip()) if r and r.strip() else None)
        except (EditorError, OSError, ValueError) as e:
            gr.Warning(str(e))
            return show(None, 0, f"⚠ {e}")
        bad = sum(1 for row in doc.rows if row.errors)
        return show(doc, 0, t("subfix.loaded", n=len(doc), bad=bad))

    def on_input(doc: Document | None, page: int, *tx: str) -> tuple:
        if doc is None:
            return doc, gr.update()
        doc = apply_texts(doc, page, rows, list(tx))
        return doc, render(doc, page, rows, t)[0]

    load.click(on_load, [path, root], outputs, concurrency_id=CONCURRENCY_ID)
    path.submit(on_load, [path, root], outputs, concurrency_id=CONCURRENCY_ID)
    for text in texts:
        text.input(
            on_input,
            [doc_state, page_state, *texts],
            [doc_state, info],
            trigger_mode="always_last",
            concurrency_id=CONCURRENCY_ID,
            show_progress="hidden",
        )
    return {
        "path": path,
        "root": root,
        "load": load,
        "info": info,
        "doc": doc_state,
        "texts": texts,
        "on_load": on_load,
        "outputs": outputs,
    }
