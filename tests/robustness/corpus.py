"""Bad and awkward inputs, made at test time into a folder (nothing is checked in).

Every maker takes the folder to write into and returns the path of the input it made. Audio is a short
real signal (a 220 Hz tone with a little noise) so that the stages have something to work on; the
malicious checkpoints carry a payload that would create ``MARKER`` beside them, so a test can prove it
never ran.
"""

from __future__ import annotations

import io
import pickle
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

MARKER = "PAYLOAD_RAN"  # file name a malicious payload would create next to the checkpoint
Maker = Callable[[Path], Path]


def tone(seconds: float = 1.0, sr: int = 32000, channels: int = 1, level: float = 0.3) -> np.ndarray:
    """(T, C) float64: a tone with a little noise, different per channel."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(0)
    cols = [
        level * np.sin(2 * np.pi * 220 * (c + 1) * t) + 0.01 * rng.standard_normal(t.size)
        for c in range(channels)
    ]
    return np.stack(cols, axis=1)


# ---------------------------------------------------------------------------------------------------------
# Audio


def wav(
    subtype: str = "PCM_16", sr: int = 32000, channels: int = 1, seconds: float = 1.0, name: str = "clip.wav"
) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        sf.write(path, tone(seconds, sr, channels), sr, subtype=subtype, format="WAV")
        return path

    return make


def float_wav(values: Callable[[np.ndarray], np.ndarray], subtype: str = "FLOAT") -> Maker:
    """A float wav whose samples ``values`` edits (NaN, Inf, overrange)."""

    def make(folder: Path) -> Path:
        data = values(tone(1.0).copy())
        path = folder / "float.wav"
        sf.write(path, data, 32000, subtype=subtype, format="WAV")
        return path

    return make


def with_nan(x: np.ndarray) -> np.ndarray:
    x[100:200] = np.nan
    return x


def with_inf(x: np.ndarray) -> np.ndarray:
    x[100] = np.inf
    x[300] = -np.inf
    return x


def overrange(x: np.ndarray) -> np.ndarray:
    return x * 8.0  # peaks at ~2.4: float wavs may hold values beyond full scale


def silence(x: np.ndarray) -> np.ndarray:
    return np.zeros_like(x)


def dc_offset(x: np.ndarray) -> np.ndarray:
    return x * 0.3 + 0.5


def clipped(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 10, -1.0, 1.0)


def compressed_as_wav(fmt: str) -> Maker:
    """An mp3/ogg/flac stream under a .wav name (ffmpeg for mp3, soundfile for the others)."""

    def make(folder: Path) -> Path:
        path = folder / f"{fmt}_really.wav"
        if fmt == "mp3":
            src = folder / ".src.wav"
            sf.write(src, tone(1.0), 32000, subtype="PCM_16")
            subprocess.run(
                ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-f", "mp3", str(path)], check=True
            )
            src.unlink()
        else:
            sf.write(
                path, tone(1.0), 32000, format=fmt.upper(), subtype="VORBIS" if fmt == "ogg" else "PCM_16"
            )
        return path

    return make


def mulaw(folder: Path) -> Path:
    path = folder / "mulaw.wav"
    sf.write(path, tone(1.0, 8000), 8000, subtype="ULAW", format="WAV")
    return path


def damaged_header(folder: Path) -> Path:
    path = wav()(folder)
    data = bytearray(path.read_bytes())
    data[0:4] = b"RIFX"  # not a RIFF any more
    data[8:16] = b"\x00" * 8
    path.write_bytes(bytes(data))
    return path


def truncated(folder: Path) -> Path:
    path = wav(seconds=2.0)(folder)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # header says 2 s, a third is there
    return path


def header_only(folder: Path) -> Path:
    path = wav()(folder)
    path.write_bytes(path.read_bytes()[:44])
    return path


def empty_file(name: str = "empty.wav") -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(b"")
        return path

    return make


def garbage(name: str = "garbage.wav", size: int = 4096) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8).tobytes())
        return path

    return make


HOSTILE_NAMES = {
    "spaces": "my clip  01 .wav",
    "cjk": "录音_第一段.wav",
    "emoji": "voice_🎤_ok.wav",
    "pipe": "a|b.wav",
    "dash": "-rf.wav",
    "long": "x" * 196 + ".wav",
}


def pauses(folder: Path) -> Path:
    """Two minutes of speech-like bursts with long pauses between them."""
    sr = 32000
    parts = []
    for i in range(20):
        parts.append(tone(2.0 + (i % 3), sr)[:, 0])
        parts.append(np.zeros(int(sr * (1.5 + (i % 4)))))
    path = folder / "long_pauses.wav"
    sf.write(path, np.concatenate(parts), sr, subtype="PCM_16")
    return path


# ---------------------------------------------------------------------------------------------------------
# .list files


def listfile(
    lines: list[str] | Callable[[Path], list[str]],
    encoding: str = "utf-8",
    newline: str = "\n",
    final_newline: bool = True,
    audio: tuple[str, ...] = ("a.wav", "b.wav"),
) -> Maker:
    """A .list file beside real audio files ``audio`` (lines may use ``{dir}`` for the folder)."""

    def make(folder: Path) -> Path:
        for name in audio:
            sf.write(folder / name, tone(0.5), 32000, subtype="PCM_16")
        rows = lines(folder) if callable(lines) else [ln.replace("{dir}", str(folder)) for ln in lines]
        text = newline.join(rows) + (newline if final_newline else "")
        path = folder / "train.list"
        path.write_bytes(text.encode(encoding))
        return path

    return make


def binary_list(folder: Path) -> Path:
    path = folder / "train.list"
    path.write_bytes(b"\x00\xff\xfe\x80" * 256 + bytes(range(256)))
    return path


def huge_list(n: int) -> Maker:
    def lines(folder: Path) -> list[str]:
        return [f"a.wav|spk|zh|第{i}句话。" for i in range(n)]

    return listfile(lines)


# ---------------------------------------------------------------------------------------------------------
# Checkpoints


class _Reduce:
    """A pickled object whose ``__reduce__`` calls ``func(*args)`` when unpickled."""

    def __init__(self, func: Callable, args: tuple) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def _touch_cmd(folder: Path) -> str:
    return f"touch '{folder / MARKER}'"


def _exec_src(folder: Path) -> str:
    return f"open({str(folder / MARKER)!r}, 'w').close()"


def torch_zip(obj: object) -> bytes:
    """A real torch zip archive of ``obj`` (torch.save into memory)."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _payload_zip(payload: object) -> bytes:
    """A torch-layout zip whose data.pkl is ``payload`` pickled (protocol 2, as torch writes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(payload, protocol=2))
        zf.writestr("archive/version", "3\n")
        zf.writestr("archive/byteorder", "little")
    return buf.getvalue()


def malicious(kind: str, header: bytes | None = None, name: str = "evil.pth") -> Maker:
    """A checkpoint that would create MARKER if unpickled: ``system`` (os.system), ``exec``
    (builtins.exec), ``dotted`` (a dotted global path: subprocess.Popen via its module), ``legacy``
    (pre-zip torch format: a bare pickle stream); ``header`` replaces the first two bytes (05, 04)."""

    def make(folder: Path) -> Path:
        import os
        import subprocess as sp

        cmd, src = _touch_cmd(folder), _exec_src(folder)
        payloads = {
            "system": _Reduce(os.system, (cmd,)),
            "exec": _Reduce(exec, (src,)),
            "dotted": _Reduce(sp.check_call, (["sh", "-c", cmd],)),
            "eval_weight": {"weight": {"x": _Reduce(eval, (f"__import__('os').system({cmd!r})",))}},
        }
        if kind == "legacy":
            data = pickle.dumps(_Reduce(os.system, (cmd,)), protocol=2)
        else:
            data = _payload_zip({"weight": payloads[kind]} if kind != "eval_weight" else payloads[kind])
        if header is not None:
            data = header + data[2:]
        path = folder / name
        path.write_bytes(data)
        return path

    return make


def raw_ckpt(content: bytes | Callable[[], bytes], name: str = "model.pth") -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content() if callable(content) else content)
        return path

    return make


def truncated_zip(folder: Path) -> Path:
    import torch

    data = torch_zip({"weight": {"a": torch.zeros(64, 64)}, "config": {}, "info": "x"})
    path = folder / "trunc.pth"
    path.write_bytes(data[: len(data) // 2])
    return path


def non_torch_zip(folder: Path) -> Path:
    path = folder / "notes.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    return path


def copy_of(src: Path, name: str) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        shutil.copyfile(src, path)
        return path

    return make


def golden_model(kind: str, edit: str = "", name: str = "") -> Maker:
    """The golden ``kind`` ("gpt" | "sovits") model of ../shared, copied or re-saved after ``edit``:
    ``drop`` (one weight key missing) or ``shape`` (one weight with a wrong shape). Skips the case
    where ../shared is absent (a user's clone)."""

    def make(folder: Path) -> Path:
        import pytest
        import torch

        from GPT_SoVITS.checkpoints import save_gpt, save_sovits
        from GPT_SoVITS.parity.core import find_model
        from tests.conftest import SHARED_DIR

        golden = SHARED_DIR / "parity" / "golden"
        if not (golden / "models").is_dir():
            pytest.skip(f"{golden} is absent: golden models come from the maintainers")
        ckpt = find_model(golden, kind)
        path = folder / (name or ckpt.path.name)
        if not edit:
            shutil.copyfile(ckpt.path, path)
            return path
        weight = dict(ckpt.weight)
        key = next(k for k in weight if k.endswith(".weight") and weight[k].dim() == 2)
        if edit == "drop":
            del weight[key]
        else:
            weight[key] = torch.zeros(weight[key].shape[0] + 3, weight[key].shape[1])
        if kind == "gpt":
            save_gpt(path, weight, ckpt.config, ckpt.info)
        else:
            save_sovits(path, weight, ckpt.config, ckpt.info, ckpt.version)
        return path

    return make
