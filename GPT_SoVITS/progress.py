"""``progress.jsonl``: how every stage reports to the WebUI and to users (one JSON object per line).

Events: ``start`` (stage, total), ``item`` (done, total, name), ``skip`` (name, reason), ``metric`` (step,
epoch, losses, lr, samples_per_s, eta_s), ``saved`` (path), ``end`` (ok, message).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from GPT_SoVITS.paths import PROGRESS_FILE


class ProgressLog:
    """Appends events to ``<folder>/progress.jsonl``; each line is flushed so a reader can follow it live."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = Path(folder) / PROGRESS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> None:
        record = {"time": round(time.time(), 3), "event": event, **fields}
        line = json.dumps(record, ensure_ascii=False, default=str)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()


def read_progress(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete events of a progress file; a half-written last line (a stage still writing) is ignored."""
    path = Path(path)
    if path.is_dir():
        path = path / PROGRESS_FILE
    if not path.is_file():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            events.append(record)
    return events
