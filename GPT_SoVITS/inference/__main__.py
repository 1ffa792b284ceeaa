"""Command-line synthesis: ``python -m GPT_SoVITS.inference --gpt G.ckpt --sovits S.pth --ref-audio R.wav
--prompt-text T --prompt-lang zh --text "..." --text-lang zh --out out.wav``.

Every TTSRequest field is a flag named after the api_v2 field with dashes (``--top-k``, ``--speed-factor``,
``--text-split-method``...). Prints notes and retried segments, then one line naming the output file.
Exit status 2 on bad input (one line on stderr), 1 on a synthesis failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from GPT_SoVITS.fileio import atomic_output, atomic_write_bytes
from GPT_SoVITS.inference.request import (
    CUT_METHODS,
    MEDIA_TYPES,
    V2_LANGUAGES,
    RequestError,
    TTSRequest,
    request_fields,
)
from GPT_SoVITS.paths import DEFAULT_BERT_DIR, DEFAULT_HUBERT_DIR, OUTPUT_DIR
from GPT_SoVITS.stage import add_decoding_args, apply_threads

HELP = {
    "aux_ref_audio_paths": "extra reference clips whose timbre is averaged with the main one",
    "top_k": "sample among the k most likely tokens (official default 15; <=0 disables)",
    "top_p": "nucleus sampling mass in (0, 1]",
    "temperature": "sampling temperature (> 0)",
    "text_split_method": "how the text is cut into segments",
    "batch_size": "segments decoded together by the GPT (with --parallel-infer)",
    "batch_threshold": "split-bucket threshold (0..1)",
    "split_bucket": "group segments of similar length into batches",
    "speed_factor": "speech speed, > 1 faster (0.25..4)",
    "fragment_interval": "seconds of silence after each segment",
    "seed": "random seed; -1 picks one (printed)",
    "media_type": "output container; default: from the --out extension",
    "streaming_mode": "0 off, 1 per segment, 2 token chunks cut at pauses, 3 fixed token chunks",
    "parallel_infer": "decode a batch of segments in one GPT call",
    "repetition_penalty": "penalty on already generated tokens (official 1.35)",
    "sample_steps": "CFM steps (v3/v4 models only; other versions reject a non-default value)",
    "super_sampling": "v3 audio super-resolution (v3 models only; other versions reject it)",
    "overlap_length": "tokens shared by consecutive streaming chunks (crossfaded)",
    "min_chunk_length": "tokens per streaming chunk",
    "ref_free": "ignore the prompt text: the reference gives the timbre only",
    "max_retries": "regenerations of a segment that looks swallowed or looping (0 disables)",
}
# Fields with their own flags (required inputs and the reference).
SPECIAL = {"text", "text_lang", "ref_audio_path", "prompt_text", "prompt_lang"}


def _add_runtime_args(p: argparse.ArgumentParser) -> None:
    """Where and how the models run: chosen once for the process."""
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"), help="model precision")
    add_decoding_args(p)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m GPT_SoVITS.inference", description=__doc__.split("\n\n")[0])
    p.add_argument("--gpt", type=Path, help="GPT weights (.ckpt); required unless the --preset names them")
    p.add_argument(
        "--sovits", type=Path, help="SoVITS weights (.pth); required unless the --preset names them"
    )
    p.add_argument(
        "--preset", help="voice preset (as the API's): reference, prompt, knobs; flags override it"
    )
    p.add_argument("--presets-dir", type=Path, default=OUTPUT_DIR / "voices", help="where voice presets live")
    p.add_argument("--bert", type=Path, default=DEFAULT_BERT_DIR, help="chinese-roberta-wwm-ext-large folder")
    p.add_argument("--no-bert", action="store_true", help="run without BERT (zero features; lower quality)")
    p.add_argument("--hubert", type=Path, default=DEFAULT_HUBERT_DIR, help="chinese-hubert-base folder")
    p.add_argument(
        "--ref-audio", dest="ref_audio_path", help="reference audio file (required without --preset)"
    )
    p.add_argument("--prompt-text", help="transcript of the reference (empty: reference-free)")
    p.add_argument("--prompt-lang", choices=("", *V2_LANGUAGES), help="language of --prompt-text")
    text = p.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", help="text to synthesise")
    text.add_argument("--text-file", type=Path, help="UTF-8 file with the text to synthesise")
    p.add_argument("--text-lang", choices=V2_LANGUAGES, help="language mode of the text (or the preset's)")
    p.add_argument("--out", type=Path, required=True, help="output audio file (.wav, .ogg, .aac or .raw)")
    p.add_argument("--metadata", type=Path, help="also write the synthesis metadata (JSON) here")
    _add_runtime_args(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    defaults = TTSRequest.__dataclass_fields__
    for f in request_fields():
        if f.name in SPECIAL:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = defaults[f.name].default
        kw: dict = {"dest": f.name, "default": None, "help": f"{HELP[f.name]} (default: {default})"}
        if f.name == "aux_ref_audio_paths":
            p.add_argument(flag, nargs="+", **kw)
        elif f.name == "streaming_mode":
            p.add_argument(flag, type=int, choices=(0, 1, 2, 3), **kw)
        elif isinstance(default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif f.name == "text_split_method":
            p.add_argument(flag, choices=CUT_METHODS, **kw)
        elif f.name == "media_type":
            p.add_argument(flag, choices=MEDIA_TYPES, **kw)
        else:
            p.add_argument(flag, type=type(default), **kw)
    return p


def apply_preset(args: argparse.Namespace) -> dict:
    """The preset's request fields (empty without --preset); fills --gpt / --sovits from it when absent."""
    if not args.preset:
        return {}
    from GPT_SoVITS.presets import PresetStore

    preset = PresetStore(args.presets_dir).get(args.preset)
    args.gpt = args.gpt or (Path(preset.gpt_weights) if preset.gpt_weights else None)
    args.sovits = args.sovits or (Path(preset.sovits_weights) if preset.sovits_weights else None)
    return preset.request_fields()


def request_from_args(args: argparse.Namespace) -> TTSRequest:
    text = args.text if args.text is not None else args.text_file.read_text(encoding="utf-8")
    values = {f.name: getattr(args, f.name) for f in request_fields() if f.name not in SPECIAL}
    values.update(text_lang=args.text_lang, ref_audio_path=args.ref_audio_path)
    values.update(prompt_text=args.prompt_text, prompt_lang=args.prompt_lang)
    values = {**apply_preset(args), **{k: v for k, v in values.items() if v is not None}}  # flags win
    if "media_type" not in values:
        suffix = args.out.suffix.lower().lstrip(".")
        values["media_type"] = suffix if suffix in MEDIA_TYPES else "wav"
    for flag, given in (
        ("--gpt", args.gpt),
        ("--sovits", args.sovits),
        ("--text-lang", values.get("text_lang")),
    ):
        if not given:
            raise RequestError(
                flag.lstrip("-").replace("-", "_"), f"{flag} is required (or a --preset that has it)"
            )
    if not values.get("ref_audio_path"):
        raise RequestError("ref_audio_path", "--ref-audio is required (or a --preset)")
    return TTSRequest.from_mapping({"text": text, **values})


def write_output(engine, req: TTSRequest, out: Path) -> dict:
    """Synthesise into ``out`` (streamed to disk chunk by chunk when streaming_mode is set)."""
    from GPT_SoVITS.inference.postprocess import pack_audio, pack_stream_chunk, wav_header

    if req.stream_kind == "none":
        result = engine.synthesize(req)
        atomic_write_bytes(out, pack_audio(result.audio, result.sample_rate, req.media_type))
        return result.metadata()
    t0, first, reports, samples = time.perf_counter(), None, [], 0
    # streamed into a temp file beside ``out``: a crash or a failed segment never leaves half a file there
    with atomic_output(out) as tmp, open(tmp, "wb") as f:
        for chunk in engine.stream(req):
            first = first if first is not None else time.perf_counter() - t0
            f.write(pack_stream_chunk(chunk.audio, chunk.sample_rate, req.media_type, samples == 0))
            samples += len(chunk.audio)
            reports += [chunk.report] if chunk.report else []
        if req.media_type == "wav":  # now the length is known: a proper header
            f.seek(0)
            f.write(wav_header(engine.sample_rate, data_bytes=2 * samples))
    return {
        "sample_rate": engine.sample_rate,
        "duration_s": round(samples / engine.sample_rate, 3),
        "first_chunk_s": round(first or 0.0, 3),
        "retries": sum(r.retries for r in reports),
        "segments": [vars(r) for r in reports],
        "notes": [],
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        req = request_from_args(args)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from GPT_SoVITS.inference.engine import TTSEngine

    apply_threads(args)  # once per process: decoding never changes it
    try:
        engine = TTSEngine(
            args.gpt,
            args.sovits,
            None if args.no_bert else args.bert,
            args.hubert,
            device=args.device,
            precision=args.precision,
            gpt_backend=args.gpt_backend,
        )
        meta = write_output(engine, req, args.out)
    except (ValueError, OSError) as e:  # bad weights, reference, language... (all ValueError subclasses)
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"error: synthesis failed: {e}", file=sys.stderr)
        return 1
    for note in meta.get("notes", []):
        print(f"note: {note}")
    for seg in meta["segments"]:
        if seg["retries"] or not seg["accepted"]:
            state = "kept" if seg["accepted"] else "kept the least bad attempt"
            print(f"segment {seg['index']} retried {seg['retries']}x ({'; '.join(seg['reasons'])}); {state}")
    if args.metadata:
        atomic_write_bytes(args.metadata, json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
    seed = f", seed {meta['seed']}" if "seed" in meta else ""
    print(f"wrote {args.out} ({meta['duration_s']:.2f} s at {meta['sample_rate']} Hz{seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
