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
from GPT_SoVITS.inference.request import CUT_METHODS, V2_LANGUAGES, RequestError, TTSRequest
from GPT_SoVITS.listfile import parse_list
from GPT_SoVITS.versions import DEFAULT_VERSION
from GPT_SoVITS.webui.apiclient import ApiError, ApiSettings, save_result
from GPT_SoVITS.webui.context import AppContext
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


def split_values(values: Mapping[str, Any]) -> tuple[ApiSettings, dict[str, Any]]:
    """The tab's values by name -> (API process settings, /tts body); ValueError without weights."""
    engine = {k: v for k, v in values.items() if k in ENGINE_FIELDS}
    if not engine.get("gpt") or not engine.get("sovits"):
        raise ValueError("need_weights")
    settings = ApiSettings(**{**engine, "bert": engine["bert"].strip(), "hubert": engine["hubert"].strip()})
    return settings, build_request({k: v for k, v in values.items() if k not in ENGINE_FIELDS})


def phoneme_preview(text: str, mode: str, version: str = DEFAULT_VERSION.value) -> list[list[str]]:
    """Rows (language, normalised text, phonemes, G2P backend) of what the model will read; ``{word|reading}``
    overrides in the text are applied as the engine applies them."""
    from GPT_SoVITS.text.frontend import preview

    if not (text or "").strip():
        raise ValueError("type a text to preview")
    runs = preview(text, mode, version)
    return [[r["language"], r["norm_text"], " ".join(r["phones"]), str(r.get("backend", ""))] for r in runs]


def transcribe(ctx: AppContext, ref_audio: str | None, language: str, timeout_s: float = 600) -> str:
    """Run the ASR stage on the reference clip alone and return its text (raises ValueError on failure)."""
    if not ref_audio:
        raise ValueError("upload a reference audio first")
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
        raise ValueError(f"ASR failed: {st.message}")
    entries = [ln.entry for ln in parse_list(lists[0], check_audio=False) if ln.entry is not None]
    return " ".join(e.text for e in entries)


def save_chunks(parts: list[np.ndarray], sr: int, out_dir: Path, stem: str) -> Path:
    """The streamed chunks as one wav file (what the download button offers)."""
    if not parts:
        raise ApiError("the stream ended without audio")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.wav"
    sf.write(path, np.concatenate(parts), sr, subtype="PCM_16")
    return path


def result_info(t: Any, headers: dict[str, str], seconds: float) -> str:
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


def build_inference_tab(ctx: AppContext) -> dict[str, Any]:
    t = ctx.t
    gpts, sovitss = scan_weights(ctx.root)
    with gr.Row():
        gpt = gr.Dropdown(gpts, value=gpts[0] if gpts else None, label=t("infer.gpt"), elem_id="infer-gpt")
        sovits = gr.Dropdown(
            sovitss, value=sovitss[0] if sovitss else None, label=t("infer.sovits"), elem_id="infer-sovits"
        )
        refresh = gr.Button(t("train.refresh"), elem_id="infer-refresh", scale=0)
    with gr.Row():
        with gr.Column():
            ref = gr.Audio(type="filepath", sources=["upload"], label=t("infer.ref"), elem_id="infer-ref")
            with gr.Row():
                prompt_lang = gr.Dropdown(
                    list(V2_LANGUAGES), value="zh", label=t("infer.prompt_lang"), elem_id="infer-prompt-lang"
                )
                ref_free = gr.Checkbox(False, label=t("infer.ref_free"), elem_id="infer-ref-free")
            prompt_text = gr.Textbox(label=t("infer.prompt_text"), lines=2, elem_id="infer-prompt-text")
            asr_btn = gr.Button(t("infer.transcribe"), elem_id="infer-transcribe")
            aux = gr.File(file_count="multiple", type="filepath", label=t("infer.aux"))
        with gr.Column():
            text = gr.Textbox(label=t("infer.text"), lines=5, elem_id="infer-text")
            with gr.Row():
                text_lang = gr.Dropdown(
                    list(V2_LANGUAGES), value="zh", label=t("infer.text_lang"), elem_id="infer-lang"
                )
                cut = gr.Dropdown(list(CUT_METHODS), value=DEFAULTS.text_split_method, label=t("infer.cut"))
            with gr.Accordion(t("infer.preview"), open=False):
                gr.Markdown(t("infer.override_help"))
                preview_btn = gr.Button(t("infer.preview_btn"), elem_id="infer-preview-btn")
                preview_table = gr.Dataframe(
                    headers=[t("arg.language"), t("infer.norm_text"), t("infer.phones"), "G2P"],
                    interactive=False,
                    elem_id="infer-preview",
                )
            with gr.Accordion(t("infer.sampling"), open=False):
                with gr.Row():
                    top_k = gr.Slider(1, 100, value=DEFAULTS.top_k, step=1, label="top_k")
                    top_p = gr.Slider(0.01, 1, value=DEFAULTS.top_p, step=0.01, label="top_p")
                    temperature = gr.Slider(
                        0.01, 2, value=DEFAULTS.temperature, step=0.01, label="temperature"
                    )
                with gr.Row():
                    rep = gr.Slider(
                        1, 2, value=DEFAULTS.repetition_penalty, step=0.01, label="repetition_penalty"
                    )
                    speed = gr.Slider(0.5, 2, value=DEFAULTS.speed_factor, step=0.05, label=t("infer.speed"))
                    interval = gr.Slider(
                        0, 2, value=DEFAULTS.fragment_interval, step=0.05, label=t("infer.interval")
                    )
                with gr.Row():
                    seed = gr.Number(DEFAULTS.seed, precision=0, label=t("infer.seed"), elem_id="infer-seed")
                    batch = gr.Slider(1, 64, value=DEFAULTS.batch_size, step=1, label="batch_size")
                    bucket = gr.Checkbox(DEFAULTS.split_bucket, label="split_bucket")
                    parallel = gr.Checkbox(DEFAULTS.parallel_infer, label="parallel_infer")
            with gr.Accordion(t("infer.engine"), open=False):
                with gr.Row():
                    bert_dir = gr.Textbox(
                        str(paths.DEFAULT_BERT_DIR), label=t("arg.bert"), elem_id="infer-bert"
                    )
                    no_bert = gr.Checkbox(
                        not paths.DEFAULT_BERT_DIR.is_dir(), label=t("infer.no_bert"), elem_id="infer-no-bert"
                    )
                with gr.Row():
                    hubert_dir = gr.Textbox(
                        str(paths.DEFAULT_HUBERT_DIR), label=t("arg.hubert"), elem_id="infer-hubert"
                    )
                    device = gr.Dropdown(
                        device_choices(),
                        value="auto",
                        label=t("arg.device"),
                        allow_custom_value=True,
                        elem_id="infer-device",
                    )
                    precision = gr.Dropdown(list(PRECISIONS), value="fp32", label=t("arg.precision"))
            with gr.Row():
                synth = gr.Button(t("infer.synthesize"), variant="primary", elem_id="infer-synth", scale=3)
                stream = gr.Checkbox(False, label=t("infer.stream"), elem_id="infer-stream", scale=1)
            stream_out = gr.Audio(
                streaming=True,
                autoplay=True,
                interactive=False,
                label=t("infer.stream_out"),
                elem_id="infer-stream-out",
            )
            out = gr.Audio(type="filepath", label=t("infer.output"), interactive=False, elem_id="infer-out")
            spec_img = gr.Image(type="pil", label=t("infer.spectrogram"), interactive=False, height=120)
            info = gr.Markdown(elem_id="infer-info")

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

    def on_synth(
        gpt_path: str | None,
        sovits_path: str | None,
        bert: str,
        hubert: str,
        nob: bool,
        dev: str,
        prec: str,
        streaming: bool,
        *vals: Any,
    ) -> Iterator[tuple]:
        """Yields (stream chunk, file, spectrogram, info); streamed chunks play while synthesis runs."""
        keep = gr.update()
        try:
            body = build_request(*vals)
            if not gpt_path or not sovits_path:
                raise ValueError(t("infer.need_weights"))
            settings = ApiSettings(gpt_path, sovits_path, bert.strip(), hubert.strip(), bool(nob), dev, prec)
            started = time.monotonic()
            stem = time.strftime("tts-%Y%m%d-%H%M%S")
            if streaming:
                parts, sr = [], 0
                for sr, chunk in ctx.api.tts_stream(settings, body):
                    parts.append(chunk)
                    yield (sr, chunk), keep, keep, t("infer.streaming", n=len(parts))
                path = save_chunks(parts, sr, ctx.output_dir / "tts", stem)
                headers: dict[str, str] = {}
            else:
                result = ctx.api.tts(settings, body)
                path = save_result(result, ctx.output_dir / "tts", stem)
                headers = result.headers
        except (RequestError, ApiError, ValueError) as e:
            gr.Warning(str(e))
            yield keep, None, None, f"⚠ {e}"
            return
        yield keep, str(path), spectrogram_image(path), result_info(t, headers, time.monotonic() - started)

    values = [
        text,
        text_lang,
        ref,
        prompt_text,
        prompt_lang,
        ref_free,
        aux,
        cut,
        top_k,
        top_p,
        temperature,
        rep,
    ]
    values += [speed, interval, seed, batch, bucket, parallel]

    def on_preview(txt: str, lang: str) -> Any:
        try:
            return phoneme_preview(txt, lang)
        except ValueError as e:
            gr.Warning(str(e))
            return gr.update()

    refresh.click(on_refresh, None, [gpt, sovits])
    preview_btn.click(on_preview, [text, text_lang], [preview_table])
    asr_btn.click(on_transcribe, [ref, prompt_lang], [prompt_text])
    engine = [bert_dir, hubert_dir, no_bert, device, precision]
    synth.click(on_synth, [gpt, sovits, *engine, stream, *values], [stream_out, out, spec_img, info])
    return {
        "gpt": gpt,
        "sovits": sovits,
        "ref": ref,
        "text": text,
        "out": out,
        "info": info,
        "refresh": refresh,
    }
