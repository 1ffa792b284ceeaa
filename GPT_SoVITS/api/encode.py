"""Whole-file audio encoding for the API: api_v2's media types and OpenAI's response formats.

Each format lists its encoders in order of preference: libsndfile (through soundfile, in-process) first,
then ffmpeg (a subprocess). What the machine has is detected at run time; a format none of its encoders
can produce is refused before synthesis with ``EncoderMissing`` (HTTP 400) naming what to install.

OpenAI's documented formats: mp3 (its default), opus (Ogg Opus), aac (ADTS), flac, wav, and pcm (16-bit
signed little-endian samples at 24 kHz, no header).
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from GPT_SoVITS.audio import resample
from GPT_SoVITS.errors import UserError
from GPT_SoVITS.inference.postprocess import pack_wav, to_int16

OPENAI_PCM_RATE = 24000  # OpenAI's pcm is 24 kHz whatever the model; clients play it at that rate
OPUS_RATE = 48000  # Opus codes 8/12/16/24/48 kHz only; 48 kHz keeps every model rate's band


@dataclass(frozen=True)
class Encoder:
    kind: str  # "builtin" | "soundfile" | "ffmpeg"
    name: str  # soundfile "FORMAT/SUBTYPE", ffmpeg "codec/muxer", or the builtin's name
    rate: int | None = None  # fixed output sample rate, Hz (None: the model's)


@dataclass(frozen=True)
class Format:
    content_type: str
    encoders: tuple[Encoder, ...]


FORMATS: dict[str, Format] = {
    "wav": Format("audio/wav", (Encoder("builtin", "wav"),)),
    "raw": Format("audio/raw", (Encoder("builtin", "raw"),)),  # api_v2: int16 PCM at the model's rate
    "pcm": Format("audio/pcm", (Encoder("builtin", "raw", OPENAI_PCM_RATE),)),
    "ogg": Format("audio/ogg", (Encoder("soundfile", "OGG/VORBIS"), Encoder("ffmpeg", "libvorbis/ogg"))),
    "flac": Format("audio/flac", (Encoder("soundfile", "FLAC/PCM_16"), Encoder("ffmpeg", "flac/flac"))),
    "mp3": Format(
        "audio/mpeg", (Encoder("soundfile", "MP3/MPEG_LAYER_III"), Encoder("ffmpeg", "libmp3lame/mp3"))
    ),
    "opus": Format(
        "audio/opus",
        (Encoder("soundfile", "OGG/OPUS", OPUS_RATE), Encoder("ffmpeg", "libopus/ogg", OPUS_RATE)),
    ),
    "aac": Format("audio/aac", (Encoder("ffmpeg", "aac/adts"),)),  # no AAC in libsndfile
}
FFMPEG_BITRATES = {"aac": "192k", "libmp3lame": "128k", "libopus": "64k"}


class EncoderMissing(UserError):
    """No encoder on this machine produces the requested format (HTTP 400 naming what is missing)."""

    def __init__(self, field_name: str, fmt: str) -> None:
        wanted = " or ".join(_describe(e) for e in FORMATS[fmt].encoders)
        super().__init__(f"{field_name}: {fmt} needs {wanted}; none is installed on this server", field_name)


def _describe(encoder: Encoder) -> str:
    if encoder.kind == "soundfile":
        return f"libsndfile with {encoder.name} (soundfile)"
    return f"ffmpeg with the {encoder.name.split('/')[0]} encoder"


@functools.cache
def _ffmpeg_encoders() -> frozenset[str]:
    """Encoder names of the ffmpeg on PATH (empty when there is none)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        return frozenset()
    out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True, check=False)
    names = (line.split()[1] for line in out.stdout.splitlines() if len(line.split()) > 1)
    return frozenset(names)


def available(encoder: Encoder) -> bool:
    if encoder.kind == "builtin":
        return True
    if encoder.kind == "soundfile":
        fmt, subtype = encoder.name.split("/")
        return fmt in sf.available_formats() and subtype in sf.available_subtypes(fmt)
    return encoder.name.split("/")[0] in _ffmpeg_encoders()


def choose(fmt: str, field_name: str = "response_format") -> Encoder:
    """The first encoder of ``fmt`` this machine has; EncoderMissing otherwise (call before synthesis)."""
    for encoder in FORMATS[fmt].encoders:
        if available(encoder):
            return encoder
    raise EncoderMissing(field_name, fmt)


def content_type(fmt: str) -> str:
    return FORMATS[fmt].content_type


def encode(wav: np.ndarray, sr: int, fmt: str, field_name: str = "response_format") -> bytes:
    """``wav`` (float32 mono, [-1, 1]) at ``sr`` Hz as a whole file of format ``fmt``."""
    encoder = choose(fmt, field_name)
    if encoder.rate and encoder.rate != sr:
        wav, sr = resample(np.asarray(wav, np.float32), sr, encoder.rate), encoder.rate
    if encoder.kind == "builtin":
        return pack_wav(wav, sr) if encoder.name == "wav" else to_int16(wav).tobytes()
    if encoder.kind == "soundfile":
        fmt_name, subtype = encoder.name.split("/")
        buf = io.BytesIO()
        sf.write(buf, to_int16(wav), sr, format=fmt_name, subtype=subtype)
        return buf.getvalue()
    return _ffmpeg(wav, sr, *encoder.name.split("/"))


def _ffmpeg(wav: np.ndarray, sr: int, codec: str, muxer: str) -> bytes:
    cmd = ["ffmpeg", "-v", "error", "-f", "s16le", "-ar", str(sr), "-ac", "1", "-i", "pipe:0"]
    cmd += ["-c:a", codec, *(["-b:a", FFMPEG_BITRATES[codec]] if codec in FFMPEG_BITRATES else [])]
    cmd += ["-vn", "-f", muxer, "pipe:1"]
    proc = subprocess.run(cmd, input=to_int16(wav).tobytes(), capture_output=True, check=False)
    if proc.returncode != 0:  # a broken ffmpeg is the server's fault: HTTP 500 with this line in the log
        raise RuntimeError(f"ffmpeg {codec} encoding failed: {proc.stderr.decode(errors='replace')[:300]}")
    return proc.stdout
