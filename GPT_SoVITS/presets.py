"""Voice presets on disk: a named reference (+ auxiliary references) with its prompt and default knobs.

Layout: ``<root>/<name>/preset.json`` and the audio files it names, copied into the same folder so a
preset keeps working when the original files move. Writes are atomic (temp folder, then rename).
One format for the HTTP API (``/voices``, ``preset=``), the inference CLI (``--preset``) and the reference
selector. A preset may also name the GPT / SoVITS weights it was chosen with (``weights``); the CLI loads
them when no ``--gpt`` / ``--sovits`` is given, the API (whose models are loaded once) ignores them.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.inference.request import RequestError, TTSRequest

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Request fields a preset may not fix: they are per request.
NOT_KNOBS = {"text", "ref_audio_path", "aux_ref_audio_paths", "prompt_text", "prompt_lang"}


class PresetError(UserError):
    """Unknown preset, bad name or bad content; ``field`` is what the API reports."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name


@dataclass(frozen=True)
class Preset:
    name: str
    ref_audio_path: str  # absolute, inside the preset folder
    prompt_text: str = ""
    prompt_lang: str = ""
    aux_ref_audio_paths: tuple[str, ...] = ()
    knobs: dict[str, Any] = field(
        default_factory=dict
    )  # defaults for other request fields (text_lang, seed...)
    gpt_weights: str = ""  # the GPT weights the preset was chosen with ("" = any)
    sovits_weights: str = ""  # the SoVITS weights the preset was chosen with ("" = any)

    def request_fields(self) -> dict[str, Any]:
        """The request fields this preset supplies (a request's own values override the knobs)."""
        return {
            **self.knobs,
            "ref_audio_path": self.ref_audio_path,
            "prompt_text": self.prompt_text,
            "prompt_lang": self.prompt_lang,
            "aux_ref_audio_paths": list(self.aux_ref_audio_paths),
        }

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out["aux_ref_audio_paths"] = list(self.aux_ref_audio_paths)
        return out


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise PresetError("name", f"invalid preset name {name!r} (letters, digits, _ . -; at most 64)")
    return name


def check_knobs(knobs: dict[str, Any]) -> dict[str, Any]:
    """Only request fields, with values a request accepts (checked by building a request with them)."""
    bad = sorted(set(knobs) & NOT_KNOBS)
    if bad:
        raise PresetError("knobs", f"{bad[0]} cannot be a knob")
    probe = {"text": "probe", "text_lang": "zh", "ref_audio_path": "probe", **knobs}
    try:
        TTSRequest.from_mapping(probe)
    except RequestError as e:
        raise PresetError(f"knobs.{e.field}", e.reason) from e
    return dict(knobs)


class PresetStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(p.parent.name for p in self.root.glob("*/preset.json"))

    def get(self, name: str) -> Preset:
        path = self.root / check_name(name) / "preset.json"
        if not path.is_file():
            raise PresetError("preset", f"unknown preset {name!r}")
        data = json.loads(path.read_text(encoding="utf-8"))
        folder = path.parent
        return Preset(
            name=name,
            ref_audio_path=str(folder / data["ref_audio"]),
            prompt_text=data.get("prompt_text", ""),
            prompt_lang=data.get("prompt_lang", ""),
            aux_ref_audio_paths=tuple(str(folder / a) for a in data.get("aux_ref_audio", [])),
            knobs=data.get("knobs", {}),
            gpt_weights=data.get("weights", {}).get("gpt", ""),
            sovits_weights=data.get("weights", {}).get("sovits", ""),
        )

    def save(
        self,
        name: str,
        ref_audio: Path,
        prompt_text: str = "",
        prompt_lang: str = "",
        aux_ref_audio: list[Path] | None = None,
        knobs: dict[str, Any] | None = None,
        weights: dict[str, str] | None = None,
    ) -> Preset:
        """Copy the audio into the preset folder and write preset.json (replacing a preset of that name)."""
        check_name(name)
        knobs = check_knobs(knobs or {})
        with self._lock:
            tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.root))
            try:
                ref_name = "ref" + (ref_audio.suffix or ".wav")
                shutil.copyfile(ref_audio, tmp / ref_name)
                aux_names = []
                for i, aux in enumerate(aux_ref_audio or []):
                    aux_names.append(f"aux{i}{aux.suffix or '.wav'}")
                    shutil.copyfile(aux, tmp / aux_names[-1])
                meta = {
                    "ref_audio": ref_name,
                    "prompt_text": prompt_text,
                    "prompt_lang": prompt_lang,
                    "aux_ref_audio": aux_names,
                    "knobs": knobs,
                }
                if weights:  # {"gpt": path, "sovits": path}: written only when given (older readers)
                    meta["weights"] = {k: str(v) for k, v in weights.items() if k in ("gpt", "sovits")}
                (tmp / "preset.json").write_text(
                    json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8"
                )
                final = self.root / name
                if final.exists():
                    shutil.rmtree(final)
                tmp.rename(final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return self.get(name)

    def delete(self, name: str) -> None:
        folder = self.root / check_name(name)
        if not (folder / "preset.json").is_file():
            raise PresetError("preset", f"unknown preset {name!r}")
        with self._lock:
            shutil.rmtree(folder)
