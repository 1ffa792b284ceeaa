"""What every tab of one WebUI app shares: the language, the job runner, the working folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from GPT_SoVITS.webui.i18n import I18n
from GPT_SoVITS.webui.runner import JobRunner


@dataclass
class AppContext:
    t: I18n
    runner: JobRunner
    root: Path  # working folder: default outputs, logs/<exp>, weights folders are under it
    api: Any = None  # GPT_SoVITS.webui.apiclient.ApiServer, started on demand by the inference tab
    # (job panel, stage keys) pairs; the app reattaches them to running jobs when a page (re)loads
    panels: list[tuple[Any, tuple[str, ...]]] = field(default_factory=list)

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"
