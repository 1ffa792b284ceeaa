"""SubFix actions as a table: each action is a function of a :class:`Step` (the document with the page's
texts applied, the selected rows, the action's :class:`Params`) that returns (document, page, status line).

Pure functions of plain values: the tab (``subfix.ui``) only hands them what the browser sent, by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from GPT_SoVITS.webui.i18n import I18n
from subfix import editor
from subfix.editor import Document, EditorError


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

    @classmethod
    def from_inputs(cls, values: dict[str, Any]) -> Params:
        """From the action's inputs by name; ``cursor`` may be the browser's ``{"slot", "pos"}`` JSON."""
        known = {f.name for f in fields(cls)}
        params = {k: v for k, v in values.items() if k in known and k != "cursor"}
        raw = values.get("cursor")
        if isinstance(raw, str):
            remembered = json.loads(raw or "null") or {}
            params |= {"slot": remembered.get("slot", -1), "cursor": remembered.get("pos", -1)}
        elif raw is not None:
            params["cursor"] = raw
        return cls(**params)


def page_indices(doc: Document, page: int, rows: int) -> list[int]:
    return [i for i, _ in editor.page(doc, page, rows)]


def apply_texts(doc: Document, page: int, rows: int, texts: list[str]) -> Document:
    """The document with the page's text boxes applied (one undo step; unchanged texts are no step)."""
    edits = {}
    for idx, text in zip(page_indices(doc, page, rows), texts, strict=False):
        if doc.rows[idx].entry is not None and text is not None:
            edits[idx] = text
    return editor.edit_texts(doc, edits)


@dataclass(frozen=True)
class Step:
    """What an action works on: the document with the page's texts applied, and the selected rows."""

    doc: Document
    page: int
    rows: int
    selected: list[int]
    p: Params
    t: I18n


Outcome = tuple[Document, int, str]  # (document, page, status line)


def _rows(indices: list[int]) -> str:
    return ", ".join(map(str, indices))


def _goto(s: Step) -> Outcome:
    if not 0 <= int(s.p.target) < len(s.doc):
        raise EditorError(s.t("subfix.no_row", row=int(s.p.target), last=len(s.doc) - 1))
    return s.doc, editor.page_of(int(s.p.target), s.rows), ""


def _search(s: Step) -> Outcome:
    found = editor.search(s.doc, s.p.query)
    if not found:
        return s.doc, s.page, s.t("subfix.no_match", query=repr(s.p.query))
    target = next((i for i in found if i >= (s.page + 1) * s.rows), found[0])
    return s.doc, editor.page_of(target, s.rows), s.t("subfix.matches", n=len(found), rows=_rows(found[:20]))


def _split_target(s: Step) -> tuple[int, int | None]:
    """(row, text cursor or None) of a split: the text box holding the cursor, or the row number field."""
    p = s.p
    if p.text_mode == "cursor":
        if p.slot is None or p.slot < 0 or p.cursor is None or p.cursor < 0:
            raise EditorError(s.t("subfix.need_cursor"))
        indices = page_indices(s.doc, s.page, s.rows)
        if int(p.slot) >= len(indices):
            raise EditorError(s.t("subfix.no_slot", slot=int(p.slot)))
        return indices[int(p.slot)], int(p.cursor)
    if p.target is None or p.target < 0:
        raise EditorError(s.t("subfix.need_row"))
    return int(p.target), None


def _split(s: Step) -> Outcome:
    row, cursor = _split_target(s)
    doc = editor.split(s.doc, row, float(s.p.split_at), cursor)
    return doc, s.page, s.t("subfix.split_done", row=row, at=f"{float(s.p.split_at):.2f}")


def _save(s: Step) -> Outcome:
    doc = editor.save(s.doc)
    return doc, s.page, s.t("subfix.saved", n=len(doc), path=str(doc.path), backup=f"{doc.path.name}.bak")


ACTIONS: dict[str, Callable[[Step], Outcome]] = {
    "prev": lambda s: (s.doc, max(0, s.page - 1), ""),
    "next": lambda s: (s.doc, min(editor.page_count(s.doc, s.rows) - 1, s.page + 1), ""),
    "goto": _goto,
    "search": _search,
    "merge": lambda s: (
        editor.merge(s.doc, s.selected, s.p.silence),
        s.page,
        s.t("subfix.merged", rows=_rows(s.selected)),
    ),
    "split": _split,
    "delete": lambda s: (
        editor.delete(s.doc, s.selected),
        s.page,
        s.t("subfix.deleted", rows=_rows(s.selected)),
    ),
    "undo": lambda s: (editor.undo(s.doc), s.page, ""),
    "redo": lambda s: (editor.redo(s.doc), s.page, ""),
    "save": _save,
}


def act(
    action: str,
    doc: Document | None,
    page: int,
    rows: int,
    texts: list[str],
    checks: list[bool],
    p: Params,
    t: I18n | None = None,
) -> Outcome:
    """Apply the page's texts, then ``action`` (a key of :data:`ACTIONS`); returns (document, page, status
    line). EditorError on a bad request (the caller shows it and keeps the previous document)."""
    t = t or I18n("en_US")
    if action not in ACTIONS:
        raise EditorError(f"unknown action {action!r}")
    if doc is None:
        raise EditorError(t("subfix.need_list"))
    doc = apply_texts(doc, page, rows, texts)
    selected = [i for i, on in zip(page_indices(doc, page, rows), checks, strict=False) if on]
    doc, page, status = ACTIONS[action](Step(doc, page, rows, selected, p, t))
    return doc, min(page, editor.page_count(doc, rows) - 1), status
