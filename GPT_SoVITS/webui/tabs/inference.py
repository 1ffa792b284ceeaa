"""Inference tab: pick weights, give a reference, type text, listen. Synthesis runs in the API process."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import soundfile as sf

from GPT_SoVITS import paths
from GPT_SoVITS.fileio import atomic_output
from GPT_SoVITS.inference.request import CUT_METHODS, V2_LANGUAGES, RequestError, TTSRequest
from GPT_SoVITS.listfile import parse_list
from GPT_SoVITS.versions import DEFAULT_VERSION
from GPT_SoVITS.webui.apiclient import ApiError, ApiSettings, save_result
from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.i18n import I18n
from GPT_SoVITS.webui.pickers import newest_weight
from GPT_SoVITS.webui.plots import spectrogram_image
from GPT_SoVITS.webui.stages import PRECISIONS, STAGES, build_argv
from GPT_SoVITS.webui.tabs.common import device_choices

DEFAULTS = TTSRequest(text="-", text_lang="zh", ref_audio_path="-")  # the official field defaults


def scan_weights(root: Path) -> tuple[list[str], list[str]]:
    """GPT and SoVITS weight files under ``GPT_weights*/`` and ``SoVITS_weights*/`` (the official per-version
    sibling folders such as ``GPT_weights_v2`` included), newest first."""

    def files(prefix: str, suffixes: tuple[str, ...]) -> list[str]:
        found = [
            p
            for d in root.glob(f"{prefix}*")
            if d.is_dir()
            for p in d.iterdir()
            if p.suffix in suffixes and p.is_file()
        ]
        return [str(p) for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]

    return files("GPT_weights", (".ckpt",)), files("SoVITS_weights", (".pth",))


REQUEST_FIELDS = frozenset(f.name for f in dataclasses.fields(TTSRequest))
ENGINE_FIELDS = frozenset(f.name for f in dataclasses.fields(ApiSettings))


def build_request(values: Mapping[str, Any]) -> dict[str, Any]:
    """The api_v2 /tts body for the UI values keyed by ``TTSRequest`` field name, validated as the server
    does (RequestError names the field). An empty reference is "", reference-free drops the transcript."""
    data = dict(values)
    data["ref_audio_path"] = data.get("ref_audio_path") or ""
    data["aux_ref_audio_paths"] = [str(p) for p in data.get("aux_ref_audio_paths") or []]
    if data.get("ref_free"):
        data["prompt_text"] = ""
    return TTSRequest.from_mapping({**data, "media_type": "wav"}).to_dict()


def split_values(values: Mapping[str, Any], t: I18n) -> tuple[ApiSettings, dict[str, Any]]:
    """The tab's values by name (``ApiSettings`` and ``TTSRequest`` field names) -> (API process settings,
    /tts body); ValueError without weights, RequestError naming a bad request field."""
    engine = {k: v for k, v in values.items() if k in ENGINE_FIELDS}
    if not engine.get("gpt") or not engine.get("sovits"):
        raise ValueError(t("infer.need_weights"))
    settings = ApiSettings(**{**engine, "bert": engine["bert"].strip(), "hubert": engine["hubert"].strip()})
    return settings, build_request({k: v for k, v in values.items() if k not in ENGINE_FIELDS})


def phoneme_preview(
    text: str, mode: str, version: str = DEFAULT_VERSION.value, t: I18n | None = None
) -> list[list[str]]:
    """Rows (language, normalised text, phonemes, G2P backend) of what the model will read; ``{word|reading}``
    overrides in the text are applied as the engine applies them."""
    from GPT_SoVITS.text.frontend import preview

    if not (text or "").strip():
        raise ValueError((t or I18n("en_US"))("infer.need_text"))
    runs = preview(text, mode, version)
    return [[r["language"], r["norm_text"], " ".join(r["phones"]), str(r.get("backend", ""))] for r in runs]


def transcribe(ctx: AppContext, ref_audio: str | None, language: str, timeout_s: float = 600) -> str:
    """Run the ASR stage on the reference clip alone and return its text (raises ValueError on failure)."""
    if not ref_audio:
        raise ValueError(ctx.t("infer.need_ref"))
    work = Path(tempfile.mkdtemp(prefix="ref-asr-", dir=ctx.output_dir if ctx.output_dir.is_dir() else None))
    clip_dir = work / "ref"
    clip_dir.mkdir()
    shutil.copy(ref_audio, clip_dir / Path(ref_audio).name)
    values = {"input": str(clip_dir), "output": str(work / "asr"), "language": language or "auto"}
    spec = STAGES["asr"]
    job = ctx.runner.start("asr-ref", spec.module, build_argv(spec, values), work / "asr" / "progress.jsonl")
    st = ctx.runner.wait(job, timeout_s)
    lists = list((work / "asr").glob("*.list"))
    if st.state != "succeeded" or not lists:
        raise ValueError(ctx.t("infer.asr_failed", reason=st.message))
    entries = [ln.entry for ln in parse_list(lists[0], check_audio=False) if ln.entry is not None]
    return " ".join(e.text for e in entries)


def save_chunks(parts: list[np.ndarray], sr: int, out_dir: Path, stem: str) -> Path:
    """The streamed chunks as one wav file (what the download button offers)."""
    if not parts:
        raise ApiError("the stream ended without audio")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.wav"
    with atomic_output(path, suffix=".wav") as tmp:
        sf.write(tmp, np.concatenate(parts), sr, subtype="PCM_16", format="WAV")
    return path


def result_info(t: I18n, headers: dict[str, str], seconds: float) -> str:
    """Markdown lines: time taken, the seed used, how many segments were regenerated (swallowed or
    repeated words) and the engine's notes (e.g. how the reference was trimmed or padded)."""
    low = {k.lower(): v for k, v in headers.items()}
    lines = [t("infer.took", s=f"{seconds:.1f}")]
    if "x-tts-seed" in low:
        lines.append(f"- {t('infer.seed_used')}: {low['x-tts-seed']}")
    if "x-tts-retries" in low:
        lines.append(f"- {t('infer.retries')}: {low['x-tts-retries']}")
    try:
        notes = json.loads(low.get("x-tts-notes", "[]"))
    except json.JSONDecodeError:
        notes = [low["x-tts-notes"]]
    lines += [f"- {note}" for note in (notes if isinstance(notes, list) else [notes])]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------
# Layout: one builder per row or accordion; each returns its components by name. Inputs of the request are
# named by their TTSRequest field, engine inputs by their ApiSettings field.


def _weights_row(t: I18n, root: Path) -> dict[str, Any]:
    """Trained weights newest first (else the default version's pretrained ones); a typed path is accepted."""
    gpts, sovitss = scan_weights(root)
    version = DEFAULT_VERSION.value
    with gr.Row():
        gpt = gr.Dropdown(
            gpts,
            value=newest_weight(root, "gpt", version) or None,
            label=t("infer.gpt"),
            allow_custom_value=True,
            elem_id="infer-gpt",
        )
        sovits = gr.Dropdown(
            sovitss,
            value=newest_weight(root, "sovits", version) or None,
            label=t("infer.sovits"),
            allow_custom_value=True,
            elem_id="infer-sovits",
        )
        refresh = gr.Button(t("train.refresh"), elem_id="infer-refresh", scale=0)
    return {"gpt": gpt, "sovits": sovits, "refresh": refresh}


def _reference_column(t: I18n) -> dict[str, Any]:
    ref = gr.Audio(type="filepath", sources=["upload"], label=t("infer.ref"), elem_id="infer-ref")
    with gr.Row():
        prompt_lang = gr.Dropdown(
            list(V2_LANGUAGES), value="zh", label=t("infer.prompt_lang"), elem_id="infer-prompt-lang"
        )
        ref_free = gr.Checkbox(False, label=t("infer.ref_free"), elem_id="infer-ref-free")
    return {
        "ref_audio_path": ref,
        "prompt_lang": prompt_lang,
        "ref_free": ref_free,
        "prompt_text": gr.Textbox(label=t("infer.prompt_text"), lines=2, elem_id="infer-prompt-text"),
        "transcribe": gr.Button(t("infer.transcribe"), elem_id="infer-transcribe"),
        "aux_ref_audio_paths": gr.File(file_count="multiple", type="filepath", label=t("infer.aux")),
    }


def _text_inputs(t: I18n) -> dict[str, Any]:
    text = gr.Textbox(label=t("infer.text"), lines=5, elem_id="infer-text")
    with gr.Row():
        text_lang = gr.Dropdown(
            list(V2_LANGUAGES), value="zh", label=t("infer.text_lang"), elem_id="infer-lang"
        )
        cut = gr.Dropdown(list(CUT_METHODS), value=DEFAULTS.text_split_method, label=t("infer.cut"))
    return {"text": text, "text_lang": text_lang, "text_split_method": cut}


def _preview_accordion(t: I18n) -> dict[str, Any]:
    with gr.Accordion(t("infer.preview"), open=False):
        gr.Markdown(t("infer.override_help"))
        button = gr.Button(t("infer.preview_btn"), elem_id="infer-preview-btn")
        table = gr.Dataframe(
            headers=[t("arg.language"), t("infer.norm_text"), t("infer.phones"), "G2P"],
            interactive=False,
            elem_id="infer-preview",
        )
    return {"preview_btn": button, "preview": table}


def _slider(name: str, lo: float, hi: float, step: float, label: str | None = None) -> Any:
    """A slider for the request field ``name``, starting at the field's official default."""
    return gr.Slider(lo, hi, value=getattr(DEFAULTS, name), step=step, label=label or name)


def _sampling_accordion(t: I18n) -> dict[str, Any]:
    with gr.Accordion(t("infer.sampling"), open=False):
        with gr.Row():
            comps = {
                "top_k": _slider("top_k", 1, 100, 1),
                "top_p": _slider("top_p", 0.01, 1, 0.01),
                "temperature": _slider("temperature", 0.01, 2, 0.01),
            }
        with gr.Row():
            comps["repetition_penalty"] = _slider("repetition_penalty", 1, 2, 0.01)
            comps["speed_factor"] = _slider("speed_factor", 0.5, 2, 0.05, t("infer.speed"))
            comps["fragment_interval"] = _slider("fragment_interval", 0, 2, 0.05, t("infer.interval"))
        with gr.Row():
            comps["seed"] = gr.Number(DEFAULTS.seed, precision=0, label=t("infer.seed"), elem_id="infer-seed")
            comps["batch_size"] = _slider("batch_size", 1, 64, 1)
            comps["split_bucket"] = gr.Checkbox(DEFAULTS.split_bucket, label="split_bucket")
            comps["parallel_infer"] = gr.Checkbox(DEFAULTS.parallel_infer, label="parallel_infer")
    return comps


def _engine_accordion(t: I18n) -> dict[str, Any]:
    with gr.Accordion(t("infer.engine"), open=False):
        with gr.Row():
            bert = gr.Textbox(str(paths.DEFAULT_BERT_DIR), label=t("arg.bert"), elem_id="infer-bert")
            no_bert = gr.Checkbox(
                not paths.DEFAULT_BERT_DIR.is_dir(), label=t("infer.no_bert"), elem_id="infer-no-bert"
            )
        with gr.Row():
            hubert = gr.Textbox(str(paths.DEFAULT_HUBERT_DIR), label=t("arg.hubert"), elem_id="infer-hubert")
            device = gr.Dropdown(
                device_choices(),
                value="auto",
                label=t("arg.device"),
                allow_custom_value=True,
                elem_id="infer-device",
            )
            precision = gr.Dropdown(list(PRECISIONS), value="fp32", label=t("arg.precision"))
    return {"bert": bert, "no_bert": no_bert, "hubert": hubert, "device": device, "precision": precision}


def _output_column(t: I18n) -> dict[str, Any]:
    with gr.Row():
        synth = gr.Button(t("infer.synthesize"), variant="primary", elem_id="infer-synth", scale=3)
        stream = gr.Checkbox(False, label=t("infer.stream"), elem_id="infer-stream", scale=1)
    return {
        "synth": synth,
        "stream": stream,
        "stream_out": gr.Audio(
            streaming=True,
            autoplay=True,
            interactive=False,
            label=t("infer.stream_out"),
            elem_id="infer-stream-out",
        ),
        "out": gr.Audio(type="filepath", label=t("infer.output"), interactive=False, elem_id="infer-out"),
        "spectrogram": gr.Image(type="pil", label=t("infer.spectrogram"), interactive=False, height=120),
        "info": gr.Markdown(elem_id="infer-info"),
    }


def build_inference_tab(ctx: AppContext) -> dict[str, Any]:
    t = ctx.t
    ui = _weights_row(t, ctx.root)
    with gr.Row():
        with gr.Column():
            ui |= _reference_column(t)
        with gr.Column():
            ui |= _text_inputs(t)
            ui |= _preview_accordion(t)
            ui |= _sampling_accordion(t)
            ui |= _engine_accordion(t)
            ui |= _output_column(t)
    wire_inference(ctx, ui)
    return ui


def synthesize(ctx: AppContext, streaming: bool, values: Mapping[str, Any]) -> Iterator[tuple]:
    """Yields (stream chunk, file, spectrogram, info) for the tab's ``values`` by name; streamed chunks play
    while synthesis runs. A bad value or a failed request ends with a warning and its reason as info."""
    t, keep = ctx.t, gr.update()
    try:
        settings, body = split_values(values, t)
        started = time.monotonic()
        stem = time.strftime("tts-%Y%m%d-%H%M%S")
        headers: dict[str, str] = {}
        if streaming:
            parts, sr = [], 0
            for sr, chunk in ctx.api.tts_stream(settings, body):
                parts.append(chunk)
                yield (sr, chunk), keep, keep, t("infer.streaming", n=len(parts))
            path = save_chunks(parts, sr, ctx.output_dir / "tts", stem)
        else:
            result = ctx.api.tts(settings, body)
            path = save_result(result, ctx.output_dir / "tts", stem)
            headers = result.headers
    except (RequestError, ApiError, ValueError) as e:
        gr.Warning(str(e))
        yield keep, None, None, f"⚠ {e}"
        return
    yield keep, str(path), spectrogram_image(path), result_info(t, headers, time.monotonic() - started)


def wire_inference(ctx: AppContext, ui: dict[str, Any]) -> None:
    """Connect the tab's buttons; synthesis gets every request and engine input by field name."""

    def on_refresh() -> tuple:
        g, s = scan_weights(ctx.root)
        return gr.Dropdown(choices=g, value=g[0] if g else None), gr.Dropdown(
            choices=s, value=s[0] if s else None
        )

    def on_transcribe(audio: str | None, lang: str) -> str:
        try:
            return transcribe(ctx, audio, lang if lang in STAGES["asr"].arg("language").choices else "auto")
        except (ValueError, TimeoutError) as e:
            gr.Warning(str(e))
            return gr.update()

    def on_preview(text: str, lang: str) -> Any:
        try:
            return phoneme_preview(text, lang, t=ctx.t)
        except ValueError as e:
            gr.Warning(str(e))
            return gr.update()

    def on_synth(stream: bool, **values: Any) -> Iterator[tuple]:
        yield from synthesize(ctx, stream, values)

    named = {k: c for k, c in ui.items() if k in REQUEST_FIELDS or k in ENGINE_FIELDS}
    ui["refresh"].click(on_refresh, None, [ui["gpt"], ui["sovits"]])
    ui["preview_btn"].click(on_preview, [ui["text"], ui["text_lang"]], [ui["preview"]])
    ui["transcribe"].click(on_transcribe, [ui["ref_audio_path"], ui["prompt_lang"]], [ui["prompt_text"]])
    outputs = [ui["stream_out"], ui["out"], ui["spectrogram"], ui["info"]]
    ui["synth"].click(on_synth, [ui["stream"]], outputs, inputs_kwargs=named)
