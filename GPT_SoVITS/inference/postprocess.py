"""Waveform post-processing and packing into the api_v2 media types (wav, raw int16 PCM, ogg, aac)."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess

import numpy as np
import soundfile as sf

MEDIA_CONTENT_TYPES = {"wav": "audio/wav", "raw": "audio/raw", "ogg": "audio/ogg", "aac": "audio/aac"}


def limit_peak(wav: np.ndarray) -> np.ndarray:
    """Official clip guard: a fragment whose peak exceeds 1 is scaled down to peak 1."""
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    return wav / peak if peak > 1.0 else wav


def to_int16(wav: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> int16 as the official (x * 32768, cast), with clipping instead of wrap-around."""
    return np.clip(np.asarray(wav, np.float32) * 32768.0, -32768, 32767).astype(np.int16)


def wav_header(
    sample_rate: int, channels: int = 1, sample_width: int = 2, data_bytes: int = 0xFFFFFFFF
) -> bytes:
    """A 44-byte RIFF/WAVE header. Streaming uses an 'unknown length' header (sizes 0xFFFFFFFF), which
    players and soundfile accept; the audio follows as raw int16 frames."""
    riff_size = 0xFFFFFFFF if data_bytes == 0xFFFFFFFF else 36 + data_bytes
    byte_rate = sample_rate * channels * sample_width
    return b"".join(
        [
            b"RIFF",
            struct.pack("<I", riff_size),
            b"WAVE",
            b"fmt ",
            struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, byte_rate, channels * sample_width, 16),
            b"data",
            struct.pack("<I", data_bytes),
        ]
    )


def pack_wav(wav: np.ndarray, sr: int) -> bytes:
    pcm = to_int16(wav)
    return wav_header(sr, data_bytes=pcm.nbytes) + pcm.tobytes()


def pack_ogg(wav: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, to_int16(wav), sr, format="OGG", subtype="VORBIS")
    return buf.getvalue()


def pack_aac(wav: np.ndarray, sr: int) -> bytes:
    """ADTS AAC via ffmpeg (as the official); raises RuntimeError when ffmpeg is missing or fails."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("media_type aac needs ffmpeg, which is not installed")
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-f",
        "s16le",
        "-ar",
        str(sr),
        "-ac",
        "1",
        "-i",
        "pipe:0",
        "-c:a",
        "aac",
        "-b:a",
        "192k",
        "-vn",
        "-f",
        "adts",
        "pipe:1",
    ]
    proc = subprocess.run(cmd, input=to_int16(wav).tobytes(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg aac encoding failed: {proc.stderr.decode(errors='replace')[:200]}")
    return proc.stdout


def pack_audio(wav: np.ndarray, sr: int, media_type: str) -> bytes:
    """Whole-file bytes of ``wav`` (float32 mono) in ``media_type``."""
    if media_type == "wav":
        return pack_wav(wav, sr)
    if media_type == "raw":
        return to_int16(wav).tobytes()
    if media_type == "ogg":
        return pack_ogg(wav, sr)
    if media_type == "aac":
        return pack_aac(wav, sr)
    raise ValueError(f"media_type: unsupported {media_type!r}")


def pack_stream_chunk(wav: np.ndarray, sr: int, media_type: str, first: bool) -> bytes:
    """Bytes of one streamed chunk: wav streams are one header then raw int16 frames (as the official);
    ogg and aac chunks are each a complete small file, raw chunks plain PCM."""
    if media_type == "wav":
        return (wav_header(sr) if first else b"") + to_int16(wav).tobytes()
    return pack_audio(wav, sr, media_type)
