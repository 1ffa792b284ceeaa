"""Model versions as rows of one table.

Every version-dependent fact (symbol set, sample rates, header bytes of SoVITS files) is data here, so no
code path needs a ``_v3`` twin.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
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
    prepares: bool = True  # the formatting stages (prepare.text/hubert/semantic) write its features
    trains: bool = False  # the trainers (train.sovits/train.gpt) fine-tune it
    sv_input_dim: int = 0  # v2Pro/v2ProPlus: width of the SV embedding ``sv_emb`` takes (20480, hard-wired)
    sv_model: str | None = None  # SV model file under pretrained_models/ the version needs at inference
    pretrained_sovits: str | None = None  # official pretrained SoVITS generator under pretrained_models/
    sample_steps: tuple[int, ...] = ()  # CFM step counts offered (official UI); empty: no CFM steps to set
    super_sampling: bool = False  # v3: the output may be upsampled by the audio super-resolution model
    sovits_epochs: int | None = None  # train.sovits default epochs (v3/v4 LoRA: 2); None: the config's


# The speaker-verification model of v2Pro/v2ProPlus (ERes2NetV2, w24 s4 e4), relative to pretrained_models/.
SV_MODEL_FILE = "sv/pretrained_eres2netv2w24s4ep4.ckpt"
CFM_STEPS = (4, 8, 16, 32, 64, 128)  # the official WebUI's sample_steps choices for v3/v4

SPECS: dict[ModelVersion, VersionSpec] = {
    s.version: s
    for s in (
        VersionSpec(ModelVersion.V1, "v1", b"00", 32000, False, False, trains=True),
        VersionSpec(ModelVersion.V2, "v2", b"01", 32000, False, False, trains=True),
        VersionSpec(
            ModelVersion.V3,
            "v2",
            b"02",
            24000,
            False,
            True,
            MelSettings(1024, 256, 1024, 100, 24000),
            prepares=False,
            sample_steps=CFM_STEPS,
            super_sampling=True,
            trains=True,  # LoRA on the CFM (train.sovits --lora-rank); the GPT is the v2 one
            sovits_epochs=2,
        ),
        VersionSpec(
            ModelVersion.V4,
            "v2",
            None,
            48000,
            False,
            True,
            MelSettings(1280, 320, 1280, 100, 32000),
            prepares=False,
            sample_steps=CFM_STEPS,
            trains=True,  # LoRA on the CFM (train.sovits --lora-rank); the GPT is the v2 one
            sovits_epochs=2,
        ),
        VersionSpec(
            ModelVersion.V2PRO,
            "v2",
            b"05",
            32000,
            True,
            False,
            sv_input_dim=20480,
            sv_model=SV_MODEL_FILE,
            pretrained_sovits="v2Pro/s2Gv2Pro.pth",
            trains=True,
        ),
        VersionSpec(
            ModelVersion.V2PROPLUS,
            "v2",
            b"06",
            32000,
            True,
            False,
            sv_input_dim=20480,
            sv_model=SV_MODEL_FILE,
            pretrained_sovits="v2Pro/s2Gv2ProPlus.pth",
            trains=True,
        ),
    )
}

DEFAULT_VERSION = ModelVersion.V2  # what every version choice starts at (the official default)

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

# Official table of released SoVITS files (process_ckpt.hash_pretrained_dict): MD5 of the first 8192 bytes ->
# (symbol version, model version, is LoRA). The released bases of v3/v4 are found only this way. Note the
# official quirk kept here: the v1 pretrained s2G488k.pth is listed as "v2" (the loader then reads the symbol
# set from the embedding rows anyway).
RELEASED_SOVITS_MD5: dict[str, tuple[str, ModelVersion, bool]] = {
    "dc3c97e17592963677a4a1681f30c653": ("v2", ModelVersion.V2, False),  # s2G488k.pth (v1 pretrained)
    "6642b37f3dbb1f76882b69937c95a5f3": ("v2", ModelVersion.V2, False),  # s2G2333k.pth (v2 pretrained)
    "43797be674a37c1c83ee81081941ed0f": ("v2", ModelVersion.V3, False),  # s2Gv3.pth
    "4f26b9476d0c5033e04162c486074374": ("v2", ModelVersion.V4, False),  # gsv-v4-pretrained/s2Gv4.pth
    "c7e9fce2223f3db685cdfa1e6368728a": ("v2", ModelVersion.V2PRO, False),  # v2Pro/s2Gv2Pro.pth
    "66b313e39455b57ab1b0bc0b239c9d0a": ("v2", ModelVersion.V2PROPLUS, False),  # v2Pro/s2Gv2ProPlus.pth
}
MD5_PREFIX_BYTES = 8192
# Official size rule for plain ("PK") SoVITS files that neither the MD5 nor the header identifies.
V1_MAX_BYTES = 82978 * 1024  # v1 exports are about 82942 KiB, v2 about 83014 KiB
V2_MAX_BYTES = 700 * 1024 * 1024  # anything larger is a full v3 model in the official rule

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


def version_names(where: Callable[[VersionSpec], bool] | None = None) -> tuple[str, ...]:
    """The official names ("v1", "v2Pro", ...) of the versions whose spec satisfies ``where`` (all when
    None), in table order: the choices of every version field in the UI and the stage CLIs."""
    return tuple(v.value for v, s in SPECS.items() if where is None or where(s))
