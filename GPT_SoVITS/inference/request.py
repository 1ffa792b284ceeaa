"""One synthesis request: every field of the official api_v2 ``/tts`` with the official defaults, validated.

The dataclass is frozen: a request is a value that travels from the CLI / HTTP layer into the engine
unchanged, so concurrent requests can never share mutable state. ``from_mapping`` accepts what a JSON body
or a query string carries (strings for numbers and booleans) and raises ``RequestError`` naming the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.versions import spec

if TYPE_CHECKING:
    from GPT_SoVITS.models.gpt.sampling import SamplingOptions

# Language codes of the official TTS_Config (v1 models know fewer languages).
V2_LANGUAGES = ("auto", "auto_yue", "en", "zh", "ja", "yue", "ko", "all_zh", "all_ja", "all_yue", "all_ko")
V1_LANGUAGES = ("auto", "en", "zh", "ja", "all_zh", "all_ja")
CUT_METHODS = ("cut0", "cut1", "cut2", "cut3", "cut4", "cut5")
MEDIA_TYPES = ("wav", "raw", "ogg", "aac")
MAX_TEXT_CHARS = 20000  # a guard against accidental megabyte bodies; ~1 hour of speech


class RequestError(UserError):
    """A request field is missing or out of range; ``field`` names it (HTTP 400 in the API)."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


def languages_for(symbol_version: str) -> tuple[str, ...]:
    """Language codes a model with this symbol table accepts ("v1" or "v2")."""
    return V1_LANGUAGES if symbol_version == "v1" else V2_LANGUAGES


@dataclass(frozen=True)
class TTSRequest:
    text: str = ""  # text to synthesise (required)
    text_lang: str = ""  # language mode of ``text`` (required), one of V2_LANGUAGES
    ref_audio_path: str = ""  # reference audio: timbre + prompt tokens (required)
    aux_ref_audio_paths: tuple[str, ...] = ()  # extra references; their timbre embeddings are averaged
    prompt_text: str = ""  # transcript of the reference; empty means reference-free decoding
    prompt_lang: str = ""  # language of ``prompt_text`` (required when it is used)
    top_k: int = 15  # sample among the k most likely tokens (0 or less: no top-k filter)
    top_p: float = 1.0  # nucleus sampling mass, (0, 1]
    temperature: float = 1.0  # logits are divided by it, > 0
    text_split_method: str = "cut5"  # cut0..cut5, see GPT_SoVITS.text.cut
    batch_size: int = 1  # segments decoded together by the GPT
    batch_threshold: float = 0.75  # split-bucket: min ratio of a batch's middle length to its mean
    split_bucket: bool = True  # group segments of similar length into batches
    speed_factor: float = 1.0  # > 1 speaks faster (the SoVITS length regulator), 0.25..4
    fragment_interval: float = 0.3  # seconds of silence between segments
    seed: int = -1  # -1 picks a random seed (reported in the result)
    media_type: str = "wav"  # wav | raw (int16 PCM) | ogg | aac
    streaming_mode: bool | int = False  # 0/False off, 1/True per segment, 2 token chunks, 3 fixed chunks
    parallel_infer: bool = True  # decode a batch of segments in one GPT call
    repetition_penalty: float = 1.35  # divides logits of tokens already generated (official semantics)
    sample_steps: int = 32  # CFM steps of v3/v4 models
    super_sampling: bool = False  # v3 audio super-resolution (needs its model)
    overlap_length: int = 2  # semantic tokens shared by consecutive streaming chunks
    min_chunk_length: int = 16  # semantic tokens per streaming chunk
    # Extensions beyond api_v2:
    ref_free: bool = False  # ignore prompt_text even if given (reference audio gives the timbre only)
    max_retries: int = 2  # regenerations with another seed when a segment looks swallowed or looping

    def __post_init__(self) -> None:
        # Normalise what callers commonly pass loosely (official GET lowercases languages; lists from JSON).
        object.__setattr__(self, "text_lang", str(self.text_lang).lower())
        object.__setattr__(self, "prompt_lang", str(self.prompt_lang).lower())
        object.__setattr__(self, "aux_ref_audio_paths", tuple(self.aux_ref_audio_paths or ()))
        validate(self)

    def replace(self, **changes: Any) -> TTSRequest:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @property
    def uses_prompt(self) -> bool:
        """The prompt text and tokens condition the GPT (not reference-free)."""
        return not self.ref_free and bool(self.prompt_text.strip())

    @property
    def sampling(self) -> SamplingOptions:
        """The GPT's sampling knobs of this request, as the decoding loops take them."""
        from GPT_SoVITS.models.gpt.sampling import SamplingOptions  # torch stays off the UI's import path

        return SamplingOptions(self.top_k, self.top_p, self.temperature, self.repetition_penalty)

    @property
    def stream_kind(self) -> str:
        """ "none", "segment" (one chunk per segment) or "token" (token-chunk streaming)."""
        mode = int(self.streaming_mode)
        return {0: "none", 1: "segment", 2: "token", 3: "token"}[mode]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TTSRequest:
        """Build from a JSON body / query dict; unknown keys and ``None`` values mean the default."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise RequestError(unknown[0], "unknown field")
        kwargs = {}
        for name, value in data.items():
            if value is None:
                continue
            kwargs[name] = _coerce(name, known[name].default, value)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["aux_ref_audio_paths"] = list(self.aux_ref_audio_paths)
        return out


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def _coerce(name: str, default: Any, value: Any) -> Any:
    """Convert a JSON / query value to the type of the field's default."""
    try:
        if name == "streaming_mode":
            return _coerce_streaming(value)
        if name == "aux_ref_audio_paths":
            if isinstance(value, str):
                value = [p for p in value.split(",") if p.strip()]
            return tuple(str(p) for p in value)
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ValueError
        if isinstance(default, int):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if isinstance(default, float):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError) as e:
        kind = type(default).__name__ if name != "aux_ref_audio_paths" else "list of paths"
        raise RequestError(name, f"expected {kind}, got {value!r}") from e


def _coerce_streaming(value: Any) -> bool | int:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    return int(text)


def _require(ok: bool, name: str, reason: str) -> None:
    if not ok:
        raise RequestError(name, reason)


def validate(req: TTSRequest) -> None:
    """Raise RequestError for the first field that is missing or out of range."""
    _require(isinstance(req.text, str) and bool(req.text.strip()), "text", "is required (empty text)")
    _require(len(req.text) <= MAX_TEXT_CHARS, "text", f"longer than {MAX_TEXT_CHARS} characters")
    _require(bool(req.text_lang), "text_lang", "is required")
    _require(req.text_lang in V2_LANGUAGES, "text_lang", f"unsupported language {req.text_lang!r}")
    _require(bool(req.ref_audio_path), "ref_audio_path", "is required")
    if req.uses_prompt:
        _require(bool(req.prompt_lang), "prompt_lang", "is required when prompt_text is given")
    if req.prompt_lang:
        ok = req.prompt_lang in V2_LANGUAGES
        _require(ok, "prompt_lang", f"unsupported language {req.prompt_lang!r}")
    _require(-1 <= req.top_k <= 1025, "top_k", "must be in -1..1025")
    _require(0.0 < req.top_p <= 1.0, "top_p", "must be in (0, 1]")
    _require(0.0 < req.temperature <= 10.0, "temperature", "must be in (0, 10]")
    _require(req.text_split_method in CUT_METHODS, "text_split_method", f"must be one of {CUT_METHODS}")
    _require(1 <= req.batch_size <= 256, "batch_size", "must be in 1..256")
    _require(0.0 <= req.batch_threshold <= 1.0, "batch_threshold", "must be in [0, 1]")
    _require(0.25 <= req.speed_factor <= 4.0, "speed_factor", "must be in [0.25, 4]")
    _require(0.0 <= req.fragment_interval <= 10.0, "fragment_interval", "must be in [0, 10] seconds")
    _require(-1 <= req.seed < 2**32, "seed", "must be -1 or in 0..2**32-1")
    _require(req.media_type in MEDIA_TYPES, "media_type", f"must be one of {MEDIA_TYPES}")
    ok = isinstance(req.streaming_mode, bool) or req.streaming_mode in (0, 1, 2, 3)
    _require(ok, "streaming_mode", "must be 0, 1, 2, 3 or true/false")
    _require(0.0 < req.repetition_penalty <= 10.0, "repetition_penalty", "must be in (0, 10]")
    _require(1 <= req.sample_steps <= 128, "sample_steps", "must be in 1..128")
    _require(0 <= req.overlap_length <= 32, "overlap_length", "must be in 0..32 tokens")
    _require(1 <= req.min_chunk_length <= 1000, "min_chunk_length", "must be in 1..1000 tokens")
    _require(0 <= req.max_retries <= 10, "max_retries", "must be in 0..10")
    _require(
        all(isinstance(p, str) and p for p in req.aux_ref_audio_paths), "aux_ref_audio_paths", "empty path"
    )


def check_model_support(req: TTSRequest, version: str) -> None:
    """Raise RequestError for a field the loaded model's version cannot honour (``versions.py`` columns).

    ``sample_steps`` (CFM steps) needs a version with CFM step choices (v3/v4); its default is accepted
    everywhere, as the official API sends it with every request. ``super_sampling`` needs a v3 model.
    """
    row = spec(version)
    default_steps = TTSRequest.__dataclass_fields__["sample_steps"].default
    if req.sample_steps != default_steps and not row.sample_steps:
        raise RequestError("sample_steps", f"a {version} model has no CFM sampling steps (v3/v4 only)")
    if row.sample_steps and req.sample_steps not in row.sample_steps:
        raise RequestError("sample_steps", f"must be one of {row.sample_steps} for a {version} model")
    if req.super_sampling and not row.super_sampling:
        raise RequestError("super_sampling", f"not available for a {version} model (v3 only)")


def request_fields() -> list[dataclasses.Field]:
    """The dataclass fields in declaration order (the CLI builds one flag per field)."""
    return list(dataclasses.fields(TTSRequest))


__all__ = [
    "CUT_METHODS",
    "MEDIA_TYPES",
    "V1_LANGUAGES",
    "V2_LANGUAGES",
    "RequestError",
    "TTSRequest",
    "check_model_support",
    "languages_for",
    "request_fields",
    "validate",
]
