"""The SubFix label editor as a Gradio tab: pages of rows, edits kept across pages, merge/split/delete/undo.

Each browser session has its own :class:`subfix.editor.Document` in a ``gr.State``. Every action first
applies the texts currently in the page's text boxes, so nothing typed is lost when paging or saving even
without a submit button; typing also updates the document as you go. Events of the editor share one queue
slot so that a text update and a click never work on the same document at once.

Actions are rows of one table (``subfix.actions.ACTIONS``); their inputs reach the handlers by name: the
``Params`` field names, ``text_<slot>`` and ``select_<slot>``.
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
from subfix.actions import Params, act, apply_texts
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

# Runs in the browser before a split: the remembered cursor as JSON, into the hidden "cursor" field.
CURSOR_JS = "() => JSON.stringify(window.__subfixCursor || null)"

# Per slot of a page, in this order: what render() gives and which components show it.
SLOT_PARTS = ("label", "text", "audio", "image", "select", "row")
# What a browser session remembers of the editor across a page reload (``gr.BrowserState``).
NOTHING_OPEN = {"path": "", "root": "", "page": 0}


@functools.lru_cache(maxsize=512)
def _thumb(path: str, mtime: float) -> Any:
    from GPT_SoVITS.webui.plots import spectrogram_image

    return spectrogram_image(path, 240, 56)


def thumbnail(path: Path) -> Any:
    try:
        return _thumb(str(path), path.stat().st_mtime)
    except (OSError, RuntimeError, ValueError):
        return None


def _empty_slot() -> dict[str, Any]:
    return {
        "label": gr.update(value=""),
        "text": gr.update(value="", visible=False),
        "audio": None,
        "image": None,
        "select": gr.update(value=False),
        "row": gr.update(visible=False),  # a row that does not exist is hidden, not drawn empty
    }


def _slot_view(doc: Document, idx: int) -> dict[str, Any]:
    """What slot shows row ``idx``: label html, text box, audio path (None: not playable), thumbnail."""
    row = doc.rows[idx]
    errors = f' <span class="subfix-err">⚠ {html.escape("; ".join(row.errors))}</span>' if row.errors else ""
    name = html.escape(Path(row.entry.path).name) if row.entry else ""
    audio_path = editor.resolve_audio_path(doc, idx)
    playable = audio_path is not None and audio_path.is_file()
    try:
        seconds = f" · {editor.audio_duration(doc, idx):.2f} s" if playable else ""
    except EditorError:
        seconds = ""
    return {
        "label": f'<span class="subfix-idx" data-row="{idx}">#{idx}</span> {name}{seconds}{errors}',
        "text": gr.update(value=row.text, visible=True, interactive=row.entry is not None),
        "audio": str(audio_path) if playable else None,
        "image": thumbnail(audio_path) if playable else None,
        "select": gr.update(value=False),
        "row": gr.update(visible=True),
    }


def render(
    doc: Document | None, page: int, rows: int, t: I18n, status: str = ""
) -> tuple[str, list[dict[str, Any]]]:
    """(info line, one view per slot keyed by :data:`SLOT_PARTS`) of the page."""
    if doc is None:
        return t("subfix.none"), [_empty_slot() for _ in range(rows)]
    dirty = " ●" if doc.dirty else ""
    info = t(
        "subfix.page", page=page + 1, pages=editor.page_count(doc, rows), rows=len(doc), path=str(doc.path)
    )
    items = editor.page(doc, page, rows)
    slots = [_slot_view(doc, items[s][0]) if s < len(items) else _empty_slot() for s in range(rows)]
    return f"{info}{dirty}" + (f"  \n{status}" if status else ""), slots


def _load_audio(path: Path) -> tuple[int, Any] | None:
    """(sample rate, samples) for a player; played from memory so any folder works without allowed_paths."""
    import soundfile as sf

    try:
        wav, sr = sf.read(str(path), dtype="int16")
    except (OSError, RuntimeError):
        return None
    return int(sr), wav


# --------------------------------------------------------------------------------------------------------
# Layout: one builder per row; each returns its components by name.


def _folders_near(list_path: str) -> list[str]:
    """Audio roots: the folders beside the list's folder (``output/*`` for ``output/asr_opt/a.list``)."""
    if not list_path:
        return []
    up = Path(list_path).expanduser().parent.parent
    return sorted(str(p) for p in up.iterdir() if p.is_dir()) if up.is_dir() else []


def _file_row(t: I18n, default_list: str) -> dict[str, Any]:
    with gr.Row():
        path = gr.Textbox(default_list, label=t("subfix.list"), elem_id="subfix-path", scale=4)
        root = gr.Dropdown(
            _folders_near(default_list),
            value=None,
            label=t("arg.audio_root"),
            allow_custom_value=True,
            elem_id="subfix-root",
            scale=2,
        )
        load = gr.Button(t("subfix.load"), variant="primary", elem_id="subfix-load", scale=0)
    return {"path": path, "root": root, "load": load}


def _nav_row(t: I18n) -> dict[str, Any]:
    with gr.Row():
        prev = gr.Button(t("subfix.prev"), elem_id="subfix-prev", scale=0)
        nxt = gr.Button(t("subfix.next"), elem_id="subfix-next", scale=0)
        goto_n = gr.Number(
            0, precision=0, label=t("subfix.row"), elem_id="subfix-goto", scale=0, min_width=100
        )
        goto = gr.Button(t("subfix.goto"), elem_id="subfix-goto-btn", scale=0)
        query = gr.Textbox(label=t("subfix.search"), elem_id="subfix-query", scale=2)
        find = gr.Button(t("subfix.find"), elem_id="subfix-find", scale=0)
    return {"prev": prev, "next": nxt, "goto": goto, "search": find, "target": goto_n, "query": query}


def _slot_row(t: I18n, i: int) -> dict[str, Any]:
    with gr.Row(equal_height=True, visible=False, elem_id=f"subfix-row-{i}") as row:
        return {
            "row": row,
            "label": gr.HTML(elem_id=f"subfix-label-{i}", min_height=20),
            "text": gr.Textbox(show_label=False, elem_id=f"subfix-text-{i}", scale=5, visible=False),
            "audio": gr.Audio(
                type="numpy", interactive=False, show_label=False, elem_id=f"subfix-audio-{i}", scale=3
            ),
            "image": gr.Image(type="pil", interactive=False, show_label=False, height=60, scale=2),
            "select": gr.Checkbox(label=t("subfix.select"), elem_id=f"subfix-sel-{i}", scale=0, min_width=80),
        }


def _edit_row(t: I18n) -> dict[str, Any]:
    with gr.Row():
        silence = gr.Number(0.3, label=t("subfix.silence"), elem_id="subfix-silence", scale=0, min_width=120)
        buttons = {
            action: gr.Button(t(f"subfix.{action}"), elem_id=f"subfix-{action}")
            for action in ("merge", "delete", "undo", "redo")
        }
        save = gr.Button(t("subfix.save"), variant="primary", elem_id="subfix-save")
    return {**buttons, "save": save, "silence": silence}


def _split_row(t: I18n) -> dict[str, Any]:
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
    cursor = gr.Textbox(visible=False, elem_id="subfix-cursor")  # filled by CURSOR_JS
    return {"split": split, "text_mode": mode, "target": split_row, "split_at": split_at, "cursor": cursor}


def build_label_tab(t: I18n, default_list: str = "", rows: int = ROWS) -> dict[str, Any]:
    """The editor's components; must be called inside a ``gr.Blocks`` (the launcher adds ``HEAD`` to it)."""
    ui = LabelTab(t, rows, gr.State(None), gr.State(0))
    ui.remember = gr.BrowserState(dict(NOTHING_OPEN), storage_key="subfix-open")
    files = _file_row(t, default_list)
    ui.info = gr.Markdown(t("subfix.none"), elem_id="subfix-info")
    nav = _nav_row(t)
    ui.slots = [_slot_row(t, i) for i in range(rows)]
    edit = _edit_row(t)
    split = _split_row(t)
    # action -> (its button, its Params inputs by field name)
    table = {
        "prev": (nav["prev"], {}),
        "next": (nav["next"], {}),
        "goto": (nav["goto"], {"target": nav["target"]}),
        "search": (nav["search"], {"query": nav["query"]}),
        "merge": (edit["merge"], {"silence": edit["silence"]}),
        "delete": (edit["delete"], {}),
        "undo": (edit["undo"], {}),
        "redo": (edit["redo"], {}),
        "save": (edit["save"], {}),
        "split": (split["split"], {k: split[k] for k in ("text_mode", "target", "split_at", "cursor")}),
    }
    for action, (button, params) in table.items():
        ui.wire_action(button, action, params, before_js=CURSOR_JS if action == "split" else None)
    ui.wire_load(files)
    ui.wire_typing()
    ui.wire_memory(files)
    return {
        **files,
        "info": ui.info,
        "doc": ui.doc,
        "buttons": {action: button for action, (button, _) in table.items()},
        "texts": [s["text"] for s in ui.slots],
        "on_load": ui.on_load,
        "on_restore": ui.on_restore,
        "remember": ui.remember,
        "outputs": ui.outputs(),
    }


@dataclass
class LabelTab:
    """The tab's state components, slots and handlers (one per built tab)."""

    t: I18n
    rows: int
    doc: Any  # gr.State: the Document
    page: Any  # gr.State: the page shown
    info: Any = None
    slots: list[dict[str, Any]] | None = None
    remember: Any = None  # gr.BrowserState: {"path", "root", "page"} of the open file

    def outputs(self) -> list[Any]:
        return [self.doc, self.page, self.info, *(s[k] for s in self.slots for k in SLOT_PARTS)]

    def show(self, doc: Document | None, page: int, status: str = "") -> list[Any]:
        """Values for :meth:`outputs`; players get the samples, not the path (see _load_audio)."""
        info, slots = render(doc, page, self.rows, self.t, status)
        for view in slots:
            if isinstance(view["audio"], str):
                view["audio"] = _load_audio(Path(view["audio"]))
        return [doc, page, info, *(v[k] for v in slots for k in SLOT_PARTS)]

    def page_inputs(self) -> dict[str, Any]:
        """The page's text boxes and select boxes by name (``text_<slot>``, ``select_<slot>``)."""
        texts = {f"text_{i}": s["text"] for i, s in enumerate(self.slots)}
        return texts | {f"select_{i}": s["select"] for i, s in enumerate(self.slots)}

    def run(self, action: str, values: dict[str, Any]) -> list[Any]:
        doc, page = values["doc"], values["page"]
        texts = [values[f"text_{i}"] for i in range(self.rows)]
        checks = [values[f"select_{i}"] for i in range(self.rows)]
        if doc is not None:
            doc = apply_texts(doc, page, self.rows, texts)  # kept even when the action fails
        params = Params.from_inputs(values)
        try:
            doc, page, status = act(action, doc, page, self.rows, texts, checks, params, self.t)
        except EditorError as e:
            gr.Warning(str(e))
            return self.show(doc, page, f"⚠ {e}")
        return self.show(doc, page, status)

    def wire_action(self, button: Any, action: str, params: dict[str, Any], before_js: str | None) -> None:
        inputs = {"doc": self.doc, "page": self.page, **self.page_inputs(), **params}
        event = button.click(None, None, [params["cursor"]], js=before_js) if before_js else button

        def handler(**values: Any) -> list[Any]:
            return self.run(action, values)

        listen = event.then if before_js else event.click
        listen(handler, None, self.outputs(), inputs_kwargs=inputs, concurrency_id=CONCURRENCY_ID)

    def on_load(self, path: str, root: str) -> list[Any]:
        """Open ``path``; the last value is what the browser remembers (the file, its root, page 0)."""
        try:
            doc = editor.load(Path(path.strip()), Path(root.strip()) if root and root.strip() else None)
        except (EditorError, OSError, ValueError) as e:
            gr.Warning(str(e))
            return [*self.show(None, 0, f"⚠ {e}"), gr.update()]
        bad = sum(1 for row in doc.rows if row.errors)
        shown = self.show(doc, 0, self.t("subfix.loaded", n=len(doc), bad=bad))
        return [*shown, {"path": str(doc.path), "root": (root or "").strip(), "page": 0}]

    def on_restore(self, stored: dict[str, Any] | None, path: str) -> list[Any]:
        """On page load: reopen the file this browser had open, on its page (else open the path box's file
        when it exists). Values for the path box, the root box and :meth:`outputs`; nothing changes when
        there is nothing to open."""
        stored = {**NOTHING_OPEN, **(stored or {})}
        want, root, page = stored["path"], stored["root"], stored["page"]
        if not (want and Path(want).is_file()):
            want, root, page = (path or "").strip(), "", 0
        if not (want and Path(want).is_file()):
            return [gr.update()] * (2 + len(self.outputs()))
        try:
            doc = editor.load(Path(want), Path(root) if root else None)
        except (EditorError, OSError, ValueError) as e:
            return [gr.update(), gr.update(), *self.show(None, 0, f"⚠ {e}")]
        page = min(max(0, int(page or 0)), editor.page_count(doc, self.rows) - 1)
        return [want, root or None, *self.show(doc, page)]

    def wire_load(self, files: dict[str, Any]) -> None:
        outputs = [*self.outputs(), self.remember]
        for event in (files["load"].click, files["path"].submit):
            event(self.on_load, [files["path"], files["root"]], outputs, concurrency_id=CONCURRENCY_ID)

    def wire_memory(self, files: dict[str, Any]) -> None:
        """The browser remembers the page shown; a reload reopens the file there (when built in a Blocks)."""

        def on_page(doc: Document | None, page: int, stored: dict[str, Any] | None) -> Any:
            if doc is None:
                return gr.update()
            return {**NOTHING_OPEN, **(stored or {}), "path": str(doc.path), "page": int(page)}

        self.page.change(
            on_page, [self.doc, self.page, self.remember], [self.remember], show_progress="hidden"
        )
        demo = gr.context.Context.root_block
        if demo is not None:
            restore_outputs = [files["path"], files["root"], *self.outputs()]
            demo.load(
                self.on_restore,
                [self.remember, files["path"]],
                restore_outputs,
                concurrency_id=CONCURRENCY_ID,
            )

    def wire_typing(self) -> None:
        """Typing updates the document (and its dirty mark) as you go."""

        def on_input(doc: Document | None, page: int, *texts: str) -> tuple:
            if doc is None:
                return doc, gr.update()
            doc = apply_texts(doc, page, self.rows, list(texts))
            return doc, render(doc, page, self.rows, self.t)[0]

        texts = [s["text"] for s in self.slots]
        for text in texts:
            text.input(
                on_input,
                [self.doc, self.page, *texts],
                [self.doc, self.info],
                trigger_mode="always_last",
                concurrency_id=CONCURRENCY_ID,
                show_progress="hidden",
            )
