"""Comparison tasks: a set of variables x test sentences, expanded into items stored in the database.

Items are ordered by weight pair first, so a renderer loads each GPT/SoVITS pair once and then renders
every reference x knob x sentence combination on it. The list of items is fixed when the task is made:
a restart renders exactly the items that have no result yet. A follow-up task (the long-text check)
holds the best-scored settings of another task applied to one long passage.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from GPT_SoVITS.inference.request import RequestError, TTSRequest
from GPT_SoVITS.refselect import clips as audio
from GPT_SoVITS.refselect.db import Library, LibraryError, dumps, now, pid_alive
from GPT_SoVITS.refselect.library import clip

# Request fields a task may sweep (besides references and weights), in display order.
KNOBS = ("top_k", "top_p", "temperature", "repetition_penalty", "speed_factor", "text_split_method")
FIXED_SEED = 1  # every combination uses the same seed unless told otherwise: differences come from the knobs
TASKS_DIR = "tasks"  # <library root>/tasks/<id>/: progress.jsonl and the rendered wavs


@dataclass
class TaskSpec:
    clips: list[int]  # reference clip ids (each is one value of the "reference" variable)
    gpt: list[str]  # GPT weight files (one value = one epoch / experiment)
    sovits: list[str]  # SoVITS weight files
    sentences: list[str]  # test sentences, each rendered for every combination
    text_lang: str = "zh"  # language of the test sentences
    sweep: dict[str, list[Any]] = field(default_factory=dict)  # knob -> values (see KNOBS)
    fixed: dict[str, Any] = field(default_factory=dict)  # other request fields, the same for every item

    @classmethod
    def from_json(cls, text: str) -> TaskSpec:
        return cls(**json.loads(text))

    def size(self) -> int:
        n = len(self.clips) * len(self.gpt) * len(self.sovits) * len(self.sentences)
        for values in self.sweep.values():
            n *= len(values)
        return n


class TaskError(LibraryError):
    """A task that cannot be made or run; the message names the field or file."""


def missing_weights(paths: list[str]) -> list[str]:
    return [p for p in paths if not Path(p).is_file()]


def check_spec(lib: Library, spec: TaskSpec) -> None:
    for name in ("clips", "gpt", "sovits", "sentences"):
        if not getattr(spec, name):
            raise TaskError(f"{name}: at least one value is needed", name)
    gone = missing_weights([*spec.gpt, *spec.sovits])
    if gone:
        raise TaskError(f"{gone[0]}: weights file not found", "weights")
    for clip_id in spec.clips:
        row = clip(lib, clip_id)
        if row["duration"] < audio.MIN_REFERENCE_S:
            raise audio.ClipError(lib.abspath(row["path"]), f"only {row['duration']:.2f} s long (needs 1 s)")
    unknown = sorted(set(spec.sweep) - set(KNOBS))
    if unknown:
        raise TaskError(f"{unknown[0]}: cannot be swept (choose from {', '.join(KNOBS)})", unknown[0])
    for knob, values in spec.sweep.items():
        if not values:
            raise TaskError(f"{knob}: no values", knob)
        for value in values:  # a request with each value must be valid: errors name the field
            _probe(spec, {knob: value})
    _probe(spec, {})


def _probe(spec: TaskSpec, extra: dict[str, Any]) -> None:
    fields = {"text": spec.sentences[0], "text_lang": spec.text_lang, "ref_audio_path": "probe"}
    try:
        TTSRequest.from_mapping({**fields, **spec.fixed, **extra})
    except RequestError as e:
        raise TaskError(f"{e.field}: {e.reason}", e.field) from e


def expand(lib: Library, spec: TaskSpec) -> list[dict[str, Any]]:
    """Every combination's parameters, weight pair outermost (the render order)."""
    refs = [clip(lib, c) for c in spec.clips]
    knob_names = list(spec.sweep)
    items = []
    for gpt, sovits in itertools.product(spec.gpt, spec.sovits):
        for ref, values, text in itertools.product(
            refs, itertools.product(*spec.sweep.values()), spec.sentences
        ):
            params = {"seed": FIXED_SEED, **spec.fixed, **dict(zip(knob_names, values, strict=True))}
            params.update(gpt=str(gpt), sovits=str(sovits), clip_id=ref["id"], ref=ref["path"])
            params.update(prompt_text=ref["transcript"], prompt_lang=ref["language"])
            params.update(text=text, text_lang=spec.text_lang)
            items.append(params)
    return items


def create_task(lib: Library, name: str, spec: TaskSpec, role_name: str | None = None) -> int:
    """Check the spec, store the task and all its items; returns the task id."""
    check_spec(lib, spec)
    items = expand(lib, spec)
    role_id = clip(lib, spec.clips[0])["role_id"] if role_name is None else None
    if role_name is not None:
        row = lib.one("SELECT id FROM roles WHERE name = ?", (role_name,))
        role_id = row["id"] if row else None
    with lib.transaction() as con:
        cur = con.execute(
            "INSERT INTO tasks (name, role_id, spec, created) VALUES (?, ?, ?, ?)",
            (name.strip() or "task", role_id, dumps(asdict(spec)), now()),
        )
        task_id = int(cur.lastrowid)
        con.executemany(
            "INSERT INTO items (task_id, idx, params) VALUES (?, ?, ?)",
            [(task_id, i, dumps(p)) for i, p in enumerate(items)],
        )
    return task_id


def task(lib: Library, task_id: int) -> dict[str, Any]:
    row = lib.one("SELECT * FROM tasks WHERE id = ?", (task_id,))
    if row is None:
        raise TaskError(f"task: unknown task {task_id}", "task")
    counts = lib.one(
        "SELECT COUNT(i.id) AS total, COUNT(r.id) AS done FROM items i "
        "LEFT JOIN results r ON r.item_id = i.id WHERE i.task_id = ?",
        (task_id,),
    )
    row.update(counts or {"total": 0, "done": 0})
    if row["state"] == "running" and not pid_alive(row["pid"]):
        row["state"] = "interrupted"  # the renderer died (killed, crashed): run it again to resume
    return row


def tasks(lib: Library) -> list[dict[str, Any]]:
    return [task(lib, r["id"]) for r in lib.rows("SELECT id FROM tasks ORDER BY id")]


def pending_items(lib: Library, task_id: int) -> list[dict[str, Any]]:
    """Items without a result, in render order."""
    rows = lib.rows(
        "SELECT i.id, i.idx, i.params FROM items i LEFT JOIN results r ON r.item_id = i.id "
        "WHERE i.task_id = ? AND r.id IS NULL ORDER BY i.idx",
        (task_id,),
    )
    for r in rows:
        r["params"] = json.loads(r["params"])
    return rows


def task_folder(lib: Library, task_id: int) -> Path:
    return lib.root / TASKS_DIR / str(task_id)


def followup_task(lib: Library, task_id: int, passage: str, top: int = 3, name: str = "") -> int:
    """The long-text check: a new task rendering ``passage`` with the ``top`` best-scored distinct settings
    (reference, weights, knobs) of ``task_id``; score its results again like any task's."""
    if not passage.strip():
        raise TaskError("passage: the long text is empty", "passage")
    source = task(lib, task_id)
    rows = lib.rows(
        "SELECT i.params FROM results r JOIN items i ON i.id = r.item_id "
        "WHERE r.task_id = ? AND r.score IS NOT NULL ORDER BY r.score DESC, r.id",
        (task_id,),
    )
    if not rows:
        raise TaskError(f"task {task_id} has no scored results yet: score some first", "score")
    chosen: dict[str, dict[str, Any]] = {}
    for row in rows:
        params = json.loads(row["params"])
        params.pop("text")
        chosen.setdefault(dumps(params), {**params, "text": passage.strip()})
        if len(chosen) == top:
            break
    items = list(chosen.values())
    gone = missing_weights(sorted({p[k] for p in items for k in ("gpt", "sovits")}))
    if gone:
        raise TaskError(f"{gone[0]}: weights file not found", "weights")
    probe = {k: v for k, v in items[0].items() if k in {f.name for f in dataclasses.fields(TTSRequest)}}
    try:
        TTSRequest.from_mapping({**probe, "ref_audio_path": "probe"})
    except RequestError as e:
        raise TaskError(f"{e.field}: {e.reason}", e.field) from e
    spec = {"followup_of": task_id, "passage": passage.strip(), "top": top}
    with lib.transaction() as con:
        cur = con.execute(
            "INSERT INTO tasks (name, role_id, spec, created) VALUES (?, ?, ?, ?)",
            (name or f"long text of #{task_id}", source["role_id"], dumps(spec), now()),
        )
        new_id = int(cur.lastrowid)
        con.executemany(
            "INSERT INTO items (task_id, idx, params) VALUES (?, ?, ?)",
            [(new_id, i, dumps(p)) for i, p in enumerate(items)],
        )
    return new_id
