"""Model versions as rows of one table.

Every version-dependent fact (symbol set, sample rates, header bytes of SoVITS files) is data here, so no
code path needs a ``_v3`` twin.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ModelVersion(str, enum.Enum):
    V1 = "v1"
    V2 = "v2"
    V3 = "v3"
    V4 = "v4"
    V2PRO = "v2Pro"
    V2PROPLUS = "v2ProPlus"


@dataclass(frozen=True)
class MelSettings:
    """STFT/mel parameters of a mel spectrogram (all lengths in samples)."""

    n_fft: int
    hop_size: int
    win_size: int
    num_mels: int
    sampling_rate: int
    fmin: float = 0.0
    fmax: float | None = None


@dataclass(frozen=True)
class VersionSpec:
    version: ModelVersion
    symbol_version: str  # "v1" (322 symbols) or "v2" (732 symbols)
    sovits_header: bytes | None  # 2-byte marker replacing "PK" in SoVITS files; None: plain torch zip
    sample_rate: int  # output sample rate of the SoVITS decoder / vocoder
    has_sv_embedding: bool  # v2Pro/v2ProPlus condition on a speaker-verification embedding
    uses_cfm: bool  # v3/v4: conditional flow matching + separate vocoder
    cfm_mel: MelSettings | None = None  # mel the v3/v4 CFM works in (fixed in the official code)
    sample_steps: tuple[int, ...] = ()  # CFM step counts offered (official UI); empty: no CFM steps to set
    super_sampling: bool = False  # v3: the output may be upsampled by the audio super-resolution model


CFM_STEPS = (4, 8, 16, 32, 64, 128)  # the official WebUI's sample_steps choices for v3/v4

SPECS: dict[ModelVersion, VersionSpec] = {
    s.version: s
    for s in (
        VersionSpec(ModelVersion.V1, "v1", b"00", 32000, False, False),
        VersionSpec(ModelVersion.V2, "v2", b"01", 32000, False, False),
        VersionSpec(
            ModelVersion.V3,
            "v2",
            b"02",
            24000,
            False,
            True,
            MelSettings(1024, 256, 1024, 100, 24000),
            sample_steps=CFM_STEPS,
            super_sampling=True,
        ),
        VersionSpec(
            ModelVersion.V4,
            "v2",
            None,
            48000,
            False,
            True,
            MelSettings(1280, 320, 1280, 100, 32000),
            sample_steps=CFM_STEPS,
        ),
        VersionSpec(ModelVersion.V2PRO, "v2", b"05", 32000, True, False),
        VersionSpec(ModelVersion.V2PROPLUS, "v2", b"06", 32000, True, False),
    )
}

# Official header table (process_ckpt.get_sovits_version_from_path_fast). "03"/"04" mark LoRA files of v3/v4.
HEADER_TO_VERSION: dict[bytes, tuple[ModelVersion, bool]] = {
    b"00": (ModelVersion.V1, False),
    b"01": (ModelVersion.V2, False),
    b"02": (ModelVersion.V3, False),
    b"03": (ModelVersion.V3, True),
    b"04": (ModelVersion.V4, True),
    b"05": (ModelVersion.V2PRO, False),
    b"06": (ModelVersion.V2PROPLUS, False),
}

# Rows of enc_p.text_embedding / ar_text_embedding that identify the v1 symbol table.
V1_SYMBOL_COUNT = 322
V2_SYMBOL_COUNT = 732


def spec(version: ModelVersion | str) -> VersionSpec:
    """The spec row of ``version`` (accepts the official strings such as "v2Pro")."""
    try:
        return SPECS[ModelVersion(version)]
    except ValueError as e:
        known = ", ".join(v.value for v in ModelVersion)
        raise ValueError(f"unknown model version {version!r}; known: {known}") from e


def symbol_version_for_rows(n_rows: int) -> str:
    """Symbol set implied by the row count of a phoneme embedding (the official loader's rule)."""
    return "v1" if n_rows == V1_SYMBOL_COUNT else "v2"
