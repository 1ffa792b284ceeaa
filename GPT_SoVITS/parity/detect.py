"""Parity group ``detect``: version detection of SoVITS files from the file alone.

``version_detection.json`` lists files under the golden folder with the official fast rule's answer
(``[symbol version, model version, is LoRA]``, or the error it raised). Each file is one case: our
``sniff_sovits_version`` must give the same triple (an official KeyError must be a refusal here too).
Where we deliberately go further than the official rule, the row's note says so: for plain zips the
official rule looks only at the size, our loader also reads the content (``load_checkpoint``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from GPT_SoVITS.checkpoints import CheckpointError, load_checkpoint, sniff_sovits_version
from GPT_SoVITS.parity.core import CaseResult, compare_exact, failure

DETECTION_FILE = "version_detection.json"


def _content_note(path: Path, official: list[Any]) -> str:
    """What our content-aware loader makes of a file the official rule classed by size."""
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as e:
        return f"official size rule; our loader refuses it as a SoVITS/GPT file ({e.reason})"
    ours = f"{ckpt.kind} {ckpt.version.value}" + (" LoRA" if ckpt.is_lora else "")
    if ckpt.kind == "sovits" and [ckpt.symbol_version, ckpt.version.value, ckpt.is_lora] == official:
        return "official size rule; our loader agrees from the content"
    return f"deliberate difference: the official size rule says {official[1]}, our loader reads {ours}"


def run_case(golden: Path, name: str, entry: dict[str, Any]) -> CaseResult:
    path = golden / name
    if not path.is_file():
        return failure("detect", name, "file listed in the golden but absent")
    expected = entry.get("get_sovits_version_from_path_fast")
    if isinstance(expected, dict):  # the official code raised on this file
        try:
            got = sniff_sovits_version(path)
        except CheckpointError as e:
            return CaseResult(
                "detect",
                name,
                0.0,
                0.0,
                True,
                f"refused as the official ({expected.get('error')}): {e.reason}",
            )
        return compare_exact("detect", name, got.as_official(), expected)
    try:
        got = sniff_sovits_version(path)
    except CheckpointError as e:
        return failure("detect", name, f"refused: {e.reason}; official {expected}")
    result = compare_exact("detect", name, got.as_official(), expected)
    if result.ok and got.rule == "size":
        result = CaseResult("detect", name, result.error, 0.0, True, _content_note(path, expected))
    elif result.ok:
        result = CaseResult("detect", name, result.error, 0.0, True, f"by {got.rule}")
    return result


def run(golden: Path, group: str) -> list[CaseResult]:
    table = json.loads((golden / DETECTION_FILE).read_text(encoding="utf-8"))
    files = table.get("files") or {}
    if not files:
        return [failure(group, "*", f"{DETECTION_FILE} lists no files")]
    return [run_case(golden, name, entry) for name, entry in files.items()]
