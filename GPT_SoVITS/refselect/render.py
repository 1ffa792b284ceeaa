"""Render a comparison task with ONE engine: models load once per weight pair, then every item runs on them.

Each result is committed on its own (the wav is written atomically first, then one INSERT), so a renderer
killed at any moment leaves only whole results; a restart renders the items that have none. The results
table allows one row per item (UNIQUE), so nothing is ever duplicated, even by two renderers racing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from GPT_SoVITS.inference.request import TTSRequest, request_fields
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.refselect import clips as audio
from GPT_SoVITS.refselect.db import Library, dumps, now, pid_alive
from GPT_SoVITS.refselect.tasks import TaskError, missing_weights, pending_items, task, task_folder

log = logging.getLogger(__name__)
REQUEST_FIELDS = {f.name for f in request_fields()}
CLIPPED_FRACTION = 0.001  # more than 0.1 % of samples at full scale is audible distortion
LONG_SILENCE_S = 1.0  # a silence this long inside a rendering is a swallowed word or a stall


@dataclass(frozen=True)
class EngineOptions:
    bert: str | None  # BERT folder (None: zero features, lower quality for Chinese)
    hubert: str  # HuBERT folder
    device: str = "auto"
    precision: str = "fp32"


def default_engine(gpt: str, sovits: str, opts: EngineOptions) -> Any:
    from GPT_SoVITS.inference.engine import TTSEngine

    return TTSEngine(gpt, sovits, opts.bert, opts.hubert, device=opts.device, precision=opts.precision)


def flags_for(result: Any) -> list[str]:
    """Automatic flags of one rendering: long silences, clipping, and what the engine's guard reported."""
    wav, sr = np.asarray(result.audio, np.float32), int(result.sample_rate)
    flags = []
    if wav.size == 0 or float(np.max(np.abs(wav))) < 1e-4:
        return ["silent output"]
    for start, end in audio.long_silences(wav, sr, LONG_SILENCE_S):
        flags.append(f"long silence {start:.1f}-{end:.1f} s")
    clipped = float(np.mean(np.abs(wav) >= audio.CLIP_LEVEL))
    if clipped > CLIPPED_FRACTION:
        flags.append(f"clipping {clipped * 100:.1f}% of samples")
    for seg in result.segments:
        if not seg.accepted:
            flags.append(f"segment {seg.index}: guard rejected every attempt ({'; '.join(seg.reasons)})")
        elif seg.retries:
            flags.append(f"segment {seg.index}: retried {seg.retries}x ({'; '.join(seg.reasons)})")
    return flags


def request_for(lib: Library, params: dict[str, Any]) -> TTSRequest:
    fields = {k: v for k, v in params.items() if k in REQUEST_FIELDS}
    fields["ref_audio_path"] = str(lib.abspath(params["ref"]))
    return TTSRequest.from_mapping(fields)


def claim(lib: Library, task_id: int) -> None:
    """Mark the task as rendered by this process; refused while another live process renders it."""
    with lib.transaction() as con:
        row = con.execute("SELECT state, pid FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise TaskError(f"task: unknown task {task_id}", "task")
        if row["state"] == "running" and row["pid"] != os.getpid() and pid_alive(row["pid"]):
            raise TaskError(f"task {task_id} is being rendered by process {row['pid']}", "task")
        con.execute(
            "UPDATE tasks SET state = 'running', pid = ?, message = '' WHERE id = ?", (os.getpid(), task_id)
        )


def finish(lib: Library, task_id: int, state: str, message: str) -> None:
    with lib.transaction() as con:
        con.execute(
            "UPDATE tasks SET state = ?, pid = NULL, message = ? WHERE id = ?", (state, message, task_id)
        )


def store_result(lib: Library, task_id: int, item: dict[str, Any], result: Any, seconds: float) -> bool:
    """Write the wav atomically, then insert its row; False if the item already had a result."""
    path = task_folder(lib, task_id) / f"{item['idx']:05d}.wav"
    audio.write_audio(path, np.asarray(result.audio, np.float32), int(result.sample_rate))
    meta = result.metadata()
    meta["render_s"] = round(seconds, 3)
    with lib.transaction() as con:
        cur = con.execute(
            "INSERT INTO results (item_id, task_id, wav, duration, flags, meta, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (item_id) DO NOTHING",
            (item["id"], task_id, lib.relpath(path), round(result.duration, 3), dumps(flags_for(result)),
             dumps(meta), now()),
        )  # fmt: skip
    return cur.rowcount == 1


@dataclass
class RenderStats:
    rendered: int = 0
    skipped: int = 0  # items that already had a result when the run started
    weight_loads: int = 0  # engine constructions + weight switches
    seconds: float = 0.0


def render_task(
    lib: Library,
    task_id: int,
    opts: EngineOptions,
    make_engine: Callable[[str, str, EngineOptions], Any] = default_engine,
) -> RenderStats:
    """Render every item of the task that has no result yet (resuming an interrupted run)."""
    info = task(lib, task_id)
    pending = pending_items(lib, task_id)
    gone = missing_weights(sorted({p["params"][k] for p in pending for k in ("gpt", "sovits")}))
    if gone:
        raise TaskError(
            f"{gone[0]}: weights file not found (it was moved or deleted after the task was made)"
        )
    claim(lib, task_id)
    folder = task_folder(lib, task_id)
    for stray in folder.glob(".*.wav"):  # a temp file of a wav being written when a run was killed
        stray.unlink(missing_ok=True)
    progress = ProgressLog(folder)
    stats = RenderStats(skipped=info["total"] - len(pending))
    progress.write("start", stage="refselect", task=task_id, total=info["total"], done=stats.skipped)
    t0 = time.perf_counter()
    engine, loaded = None, ("", "")
    try:
        for item in pending:
            p = item["params"]
            if engine is None:
                engine = make_engine(p["gpt"], p["sovits"], opts)
                stats.weight_loads += 1
            else:
                if p["gpt"] != loaded[0]:
                    engine.set_gpt_weights(p["gpt"])
                    stats.weight_loads += 1
                if p["sovits"] != loaded[1]:
                    engine.set_sovits_weights(p["sovits"])
                    stats.weight_loads += 1
            loaded = (p["gpt"], p["sovits"])
            t_item = time.perf_counter()
            result = engine.synthesize(request_for(lib, p))
            stats.rendered += store_result(lib, task_id, item, result, time.perf_counter() - t_item)
            done = stats.skipped + stats.rendered
            progress.write(
                "item", done=done, total=info["total"], name=f"#{item['idx']} {Path(p['ref']).name}"
            )
    except BaseException as e:
        finish(lib, task_id, "failed", f"{type(e).__name__}: {e}")
        progress.write("end", ok=False, message=str(e))
        raise
    stats.seconds = time.perf_counter() - t0
    message = f"{stats.rendered} rendered, {stats.skipped} already done, {stats.weight_loads} weight load(s)"
    finish(lib, task_id, "done", message)
    progress.write("end", ok=True, message=message, weight_loads=stats.weight_loads)
    return stats
