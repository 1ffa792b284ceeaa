"""The table of stages the WebUI can launch: module, how UI values become argv, where progress goes.

A :class:`StageSpec` is data. :func:`build_argv` turns a dict of UI values into the argv list of the stage
CLI, checking each value on the way (required, number ranges, choices, input paths that must exist); a
bad value raises :class:`StageInputError` naming the field, which the UI shows as a warning. Defaults are
the official ones; ``None`` means "leave the flag out and let the CLI's own default apply".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from GPT_SoVITS import paths
from GPT_SoVITS.errors import UserError
from GPT_SoVITS.versions import DEFAULT_VERSION, version_names

LIST_LANGS = ("zh", "en", "ja", "ko", "yue", "auto")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "fp16", "bf16")
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
VERSIONS = version_names(lambda s: s.prepares)  # what the formatting stages support
TRAIN_VERSIONS = version_names(lambda s: s.trains)  # what the trainers support


class StageInputError(UserError):
    """A UI value that the stage cannot take; ``field`` is the value key."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Arg:
    key: str  # name of the UI value
    flag: str  # CLI flag ("--input"); for kind "bool" the flag is passed when the value is true
    # file_in | dir_in | path_in (file or folder) | path_out | str | int | float | bool | choice | device
    kind: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    extra: tuple[str, ...] = ()  # choice values accepted besides ``choices`` (e.g. "auto" batch size)


@dataclass(frozen=True)
class StageSpec:
    key: str
    module: str
    args: tuple[Arg, ...]
    progress_key: str  # value key of the folder that receives progress.jsonl

    def arg(self, key: str) -> Arg:
        for a in self.args:
            if a.key == key:
                return a
        raise KeyError(f"stage {self.key} has no value {key!r}")

    def defaults(self) -> dict[str, Any]:
        return {a.key: a.default for a in self.args}


def _io(*more: Arg) -> tuple[Arg, ...]:
    return (
        Arg("input", "--input", "path_in", required=True),
        Arg("output", "--output", "path_out", required=True),
        *more,
    )


_DEVICE = Arg("device", "--device", "device", default="auto", choices=DEVICES)
_PRECISION = Arg("precision", "--precision", "choice", default="fp32", choices=PRECISIONS)
_VERSION = Arg("version", "--version", "choice", default=DEFAULT_VERSION.value, choices=VERSIONS)
# trainers: precision "auto" = fp16 on CUDA, else fp32
_TRAIN = (
    Arg("version", "--version", "choice", default=DEFAULT_VERSION.value, choices=TRAIN_VERSIONS),
    _DEVICE,
    Arg("precision", "--precision", "choice", default="auto", choices=("auto", *PRECISIONS)),
    Arg("list", "--list", "file_in"),
    Arg("max_steps", "--max-steps", "int", minimum=1),  # empty: no limit
    Arg("no_sample", "--no-sample", "bool", default=False),
)
# every formatting stage: relative .list paths, model version, device, precision
_PREP = (Arg("audio_root", "--audio-root", "dir_in"), _VERSION, _DEVICE, _PRECISION)

STAGES: dict[str, StageSpec] = {
    s.key: s
    for s in (
        StageSpec(
            "separate",
            "tools.separate",
            _io(
                Arg("model", "--model", "path_in", default=str(paths.PRETRAINED_DIR / "demucs")),
                Arg("name", "--name", "str", default="htdemucs"),
                Arg("two_stems", "--two-stems", "str", default="vocals"),
                Arg("format", "--format", "choice", default="wav", choices=("wav", "flac")),
                _DEVICE,
            ),
            "output",
        ),
        StageSpec(
            "channels",
            "tools.channels",
            _io(Arg("mode", "--mode", "choice", default="downmix", choices=("downmix", "split"))),
            "output",
        ),
        StageSpec(
            "loudnorm",
            "tools.loudnorm",
            _io(
                Arg("mode", "--mode", "choice", default="lufs", choices=("lufs", "peak")),
                Arg("target", "--target", "float", default=-16.0, minimum=-70, maximum=0),
                Arg("true_peak", "--true-peak", "float", default=-1.0, minimum=-20, maximum=0),
                Arg("peak", "--peak", "float", default=-6.0, minimum=-40, maximum=0),
            ),
            "output",
        ),
        StageSpec(
            "denoise",
            "tools.denoise",
            _io(
                Arg(
                    "method", "--method", "choice", default="auto", choices=("auto", "spectral", "modelscope")
                ),
                Arg("strength", "--strength", "float", default=0.8, minimum=0, maximum=1),
                Arg("stationary", "--stationary", "bool", default=False),
            ),
            "output",
        ),
        StageSpec(
            "vad",
            "tools.vad",
            _io(
                Arg("split_over", "--split-over", "float", default=300.0, minimum=0),
                Arg("max_piece", "--max-piece", "float", default=300.0, minimum=1),
                Arg("threshold", "--threshold", "float", default=0.5, minimum=0, maximum=1),
                Arg("min_speech_ms", "--min-speech-ms", "int", default=250, minimum=0),
                Arg("min_silence_ms", "--min-silence-ms", "int", default=300, minimum=0),
                Arg("speech_pad_ms", "--speech-pad-ms", "int", default=30, minimum=0),
            ),
            "output",
        ),
        StageSpec(
            "slice",
            "tools.slice",
            _io(
                Arg("threshold", "--threshold", "float", default=-34.0, minimum=-100, maximum=0),
                Arg("min_length", "--min-length", "int", default=4000, minimum=1),
                Arg("min_interval", "--min-interval", "int", default=300, minimum=1),
                Arg("hop_size", "--hop-size", "int", default=10, minimum=1),
                Arg("max_sil_kept", "--max-sil-kept", "int", default=500, minimum=0),
                Arg("max", "--max", "float", default=0.9, minimum=0, maximum=1),
                Arg("alpha", "--alpha", "float", default=0.25, minimum=0, maximum=1),
                Arg("max_length", "--max-length", "float", default=15.0, minimum=0),
                Arg("processes", "--processes", "int", default=1, minimum=1),
            ),
            "output",
        ),
        StageSpec(
            "asr",
            "tools.asr",
            (
                Arg("input", "--input", "dir_in", required=True),
                Arg("output", "--output", "path_out", required=True),
                Arg("model", "--model", "str", required=True, default=str(paths.DEFAULT_WHISPER_DIR)),
                Arg("language", "--language", "choice", default="auto", choices=LIST_LANGS),
                Arg(
                    "precision",
                    "--precision",
                    "choice",
                    default="int8",
                    choices=("int8", "float16", "float32"),
                ),
            ),
            "output",
        ),
        StageSpec(
            "prepare_text",
            "GPT_SoVITS.prepare.text",
            (
                Arg("exp", "--exp", "path_out", required=True),
                Arg("list", "--list", "file_in", required=True),
                Arg("bert", "--bert", "dir_in", default=str(paths.DEFAULT_BERT_DIR)),
                *_PREP,
            ),
            "exp",
        ),
        StageSpec(
            "prepare_hubert",
            "GPT_SoVITS.prepare.hubert",
            (
                Arg("exp", "--exp", "path_out", required=True),
                Arg("list", "--list", "file_in", required=True),
                Arg("hubert", "--hubert", "dir_in", default=str(paths.DEFAULT_HUBERT_DIR)),
                *_PREP,
            ),
            "exp",
        ),
        StageSpec(
            "prepare_semantic",
            "GPT_SoVITS.prepare.semantic",
            (
                Arg("exp", "--exp", "path_out", required=True),
                Arg("pretrained_sovits", "--pretrained-sovits", "file_in", required=True),
                *_PREP,
            ),
            "exp",
        ),
        StageSpec(
            "train_sovits",
            "GPT_SoVITS.train.sovits",
            (
                Arg("exp", "--exp", "dir_in", required=True),
                Arg("pretrained_g", "--pretrained-g", "file_in"),
                Arg("pretrained_d", "--pretrained-d", "file_in"),
                Arg("epochs", "--epochs", "int", default=8, minimum=1),
                Arg("batch_size", "--batch-size", "int", default=None, minimum=1, extra=("auto",)),
                Arg("save_every", "--save-every", "int", default=4, minimum=1),
                Arg("weights_dir", "--weights-dir", "path_out", default=str(paths.SOVITS_WEIGHTS_DIR)),
                *_TRAIN,
            ),
            "exp",
        ),
        StageSpec(
            "train_gpt",
            "GPT_SoVITS.train.gpt",
            (
                Arg("exp", "--exp", "dir_in", required=True),
                Arg("pretrained", "--pretrained", "file_in"),
                Arg("epochs", "--epochs", "int", default=15, minimum=1),
                Arg("batch_size", "--batch-size", "int", default=None, minimum=1),
                Arg("save_every", "--save-every", "int", default=5, minimum=1),
                Arg("dpo", "--dpo", "bool", default=False),
                Arg("weights_dir", "--weights-dir", "path_out", default=str(paths.GPT_WEIGHTS_DIR)),
                *_TRAIN,
            ),
            "exp",
        ),
        StageSpec(
            "download",
            "GPT_SoVITS.download",
            (
                Arg("version", "--version", "choice", default=DEFAULT_VERSION.value, choices=version_names()),
                Arg("hub", "--hub", "str", required=True, default="huggingface"),
                Arg("repo", "--repo", "str"),
                Arg("dest", "--dest", "path_out", required=True, default=str(paths.PRETRAINED_DIR)),
            ),
            "dest",
        ),
    )
}

# Which value of a finished stage pre-fills which value of the next one: (stage, key) -> [(stage, key)].
FEEDS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("separate", "output"): (("channels", "input"), ("loudnorm", "input"), ("slice", "input")),
    ("channels", "output"): (("loudnorm", "input"), ("slice", "input")),
    ("loudnorm", "output"): (("denoise", "input"), ("vad", "input"), ("slice", "input")),
    ("denoise", "output"): (("vad", "input"), ("slice", "input"), ("asr", "input")),
    ("vad", "output"): (("slice", "input"),),
    ("slice", "output"): (("denoise", "input"), ("asr", "input")),
}


def _number(arg: Arg, value: Any) -> str:
    caster = int if arg.kind == "int" else float
    try:
        number = caster(float(value)) if arg.kind == "int" and float(value).is_integer() else caster(value)
    except (TypeError, ValueError) as e:
        raise StageInputError(
            arg.key, f"expected {'an integer' if arg.kind == 'int' else 'a number'}, got {value!r}"
        ) from e
    if arg.minimum is not None and number < arg.minimum:
        raise StageInputError(arg.key, f"must be >= {arg.minimum}, got {number}")
    if arg.maximum is not None and number > arg.maximum:
        raise StageInputError(arg.key, f"must be <= {arg.maximum}, got {number}")
    return str(number)


def _value_argv(arg: Arg, value: Any) -> list[str]:
    if arg.kind == "bool":
        return [arg.flag] if value else []
    text = str(value).strip()
    if arg.extra and text in arg.extra:
        return [arg.flag, text]
    if arg.kind in ("int", "float"):
        return [arg.flag, _number(arg, text)]
    if arg.kind == "device" and not _DEVICE_RE.match(text):
        raise StageInputError(arg.key, f"{text!r} is not a device (auto, cpu, cuda or cuda:N)")
    if arg.kind == "choice" and text not in arg.choices:
        raise StageInputError(arg.key, f"{text!r} is not one of {', '.join(arg.choices)}")
    if arg.kind in ("file_in", "dir_in", "path_in"):
        p = Path(text).expanduser()
        if arg.kind == "file_in" and not p.is_file():
            raise StageInputError(arg.key, f"no such file: {p}")
        if arg.kind == "dir_in" and not p.is_dir():
            raise StageInputError(arg.key, f"no such folder: {p}")
        if arg.kind == "path_in" and not p.exists():
            raise StageInputError(arg.key, f"no such file or folder: {p}")
        text = str(p)
    return [arg.flag, text]


def build_argv(spec: StageSpec, values: Mapping[str, Any]) -> list[str]:
    """The stage's CLI arguments for the UI ``values`` (missing keys take the spec defaults)."""
    unknown = set(values) - {a.key for a in spec.args}
    if unknown:
        raise StageInputError(sorted(unknown)[0], f"not a value of stage {spec.key}")
    argv: list[str] = []
    for arg in spec.args:
        value = values.get(arg.key, arg.default)
        if value is None or (isinstance(value, str) and not value.strip()):
            if arg.required:
                raise StageInputError(arg.key, "is required")
            continue
        argv += _value_argv(arg, value)
    return argv


def progress_file(spec: StageSpec, values: Mapping[str, Any]) -> Path | None:
    folder = values.get(spec.progress_key) or spec.arg(spec.progress_key).default
    return Path(str(folder)).expanduser() / paths.PROGRESS_FILE if folder else None


def asr_list_path(values: Mapping[str, Any]) -> Path:
    """Where tools.asr writes its list: ``<output>/<input folder name>.list``."""
    return Path(str(values["output"])).expanduser() / f"{Path(str(values['input'])).name}.list"


def fed_values(stage: str, values: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """The next stages' inputs pre-filled from this stage's values once it succeeded."""
    out: dict[tuple[str, str], str] = {}
    for (src_stage, src_key), targets in FEEDS.items():
        if src_stage == stage and values.get(src_key):
            for target in targets:
                out[target] = str(values[src_key])
    return out
