"""Parity group ``cut``: every cut method and helper against ``text_cut.json``.

Official errors are recorded as ``{"error": type, "message": ...}``. For those cases we do better on
purpose (an empty result instead of a crash), and the row's note says so; the case passes when our
result is the documented replacement.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from GPT_SoVITS.parity.core import CaseResult, compare_exact
from GPT_SoVITS.text import cut

GROUP = "cut"


def _is_error(value: object) -> bool:
    return isinstance(value, dict) and "error" in value


def _case(name: str, fn: Callable[[], object], golden: object, better: object) -> CaseResult:
    """Compare ``fn()`` with the golden value; where the official code raised, expect ``better``."""
    try:
        ours = fn()
    except Exception as e:  # reported in the row, never hidden
        ours = {"error": type(e).__name__, "message": str(e)}
    if _is_error(golden):
        shown = json.dumps(better, ensure_ascii=False)
        note = f"official raises {golden['error']}; ours returns {shown} (better)"
        return compare_exact(GROUP, name, ours, better, note=note if ours == better else "")
    return compare_exact(GROUP, name, ours, golden)


def _pieces_at_full_stop(text: str) -> list[str]:
    return cut.merge_short_texts([p for p in text.split("。") if p], cut.MIN_SEGMENT_CHARS)


def run(golden: Path, group: str = GROUP) -> list[CaseResult]:
    data = json.loads((Path(golden) / "text_cut.json").read_text(encoding="utf-8"))
    texts: list[str] = data["texts"]
    results: list[CaseResult] = []
    for source in ("tts_infer_pack", "inference_webui"):
        for method, outputs in data.get(source, {}).items():
            fn = cut.get_cut_method(method)
            for i, (text, want) in enumerate(zip(texts, outputs, strict=False)):
                results.append(_case(f"{source}.{method}[{i}]", lambda f=fn, t=text: f(t), want, ""))
    for key, outputs in data.get("text_preprocessor_pre_seg_text", {}).items():
        method, lang = key.split("|")
        for i, (text, want) in enumerate(zip(texts, outputs, strict=False)):
            fn = lambda t=text, m=method, lg=lang: cut.preprocess_segments(t, m, lg)  # noqa: E731
            results.append(_case(f"pre_seg_text.{key}[{i}]", fn, want, []))
    helpers: dict[str, Callable[[str], object]] = {
        "text_preprocessor_replace_consecutive_punctuation": cut.replace_consecutive_punctuation,
        "webui_merge_short_text_in_array_threshold5": cut.webui_segments,
        "split_big_text_max510": cut.split_big_text,
        "tts_infer_pack_merge_short_text_in_array_threshold5": _pieces_at_full_stop,
    }
    for key, fn in helpers.items():
        for i, (text, want) in enumerate(zip(texts, data.get(key, []), strict=False)):
            results.append(_case(f"{key}[{i}]", lambda f=fn, t=text: f(t), want, []))
    return results
