"""Which pretrained files each model version needs under ``pretrained_models/`` (the official hub layout).

Paths are relative to the pretrained folder and equal the paths in the hub repository, so a download keeps
the layout. Sizes and checksums come from the hub at download time, not from this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from GPT_SoVITS.versions import ModelVersion

HUB_REPO = "lj1995/GPT-SoVITS"

BERT = ("chinese-roberta-wwm-ext-large/config.json", "chinese-roberta-wwm-ext-large/pytorch_model.bin",
        "chinese-roberta-wwm-ext-large/tokenizer.json")  # fmt: skip
HUBERT = ("chinese-hubert-base/config.json", "chinese-hubert-base/preprocessor_config.json",
          "chinese-hubert-base/pytorch_model.bin")  # fmt: skip


@dataclass(frozen=True)
class VersionFiles:
    version: ModelVersion
    sovits_g: str  # pretrained SoVITS generator (also the quantizer of prepare.semantic)
    sovits_d: str | None  # pretrained discriminator (v1/v2/v2Pro fine-tuning)
    gpt: str
    extra: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        own = (self.sovits_g, *((self.sovits_d,) if self.sovits_d else ()), self.gpt, *self.extra)
        return (*BERT, *HUBERT, *own)


_V2 = "gsv-v2final-pretrained/"
_S1V3 = "s1v3.ckpt"
_BIGVGAN = "models--nvidia--bigvgan_v2_24khz_100band_256x/"  # the v3 vocoder (a hub-cache folder name)
VERSIONS: dict[str, VersionFiles] = {  # by official version name; every ModelVersion has a row (tested)
    v.version.value: v
    for v in (
        VersionFiles(
            ModelVersion.V1, "s2G488k.pth", "s2D488k.pth", "s1bert25hz-2kh-longer-epoch=68e-step=50232.ckpt"
        ),
        VersionFiles(
            ModelVersion.V2,
            _V2 + "s2G2333k.pth",
            _V2 + "s2D2333k.pth",
            _V2 + "s1bert25hz-5kh-longer-epoch=12-step=369668.ckpt",
        ),
        VersionFiles(
            ModelVersion.V2PRO,
            "v2Pro/s2Gv2Pro.pth",
            "v2Pro/s2Dv2Pro.pth",
            _S1V3,
            ("sv/pretrained_eres2netv2w24s4ep4.ckpt",),
        ),
        VersionFiles(
            ModelVersion.V2PROPLUS,
            "v2Pro/s2Gv2ProPlus.pth",
            "v2Pro/s2Dv2ProPlus.pth",
            _S1V3,
            ("sv/pretrained_eres2netv2w24s4ep4.ckpt",),
        ),
        VersionFiles(
            ModelVersion.V3,
            "s2Gv3.pth",
            None,
            _S1V3,
            (_BIGVGAN + "config.json", _BIGVGAN + "bigvgan_generator.pt"),
        ),
        VersionFiles(
            ModelVersion.V4, "gsv-v4-pretrained/s2Gv4.pth", None, _S1V3, ("gsv-v4-pretrained/vocoder.pth",)
        ),
    )
}


@dataclass(frozen=True)
class FileStatus:
    path: str  # relative to the pretrained folder
    present: bool
    size: int  # bytes on disk (0 when absent)


def status(pretrained_dir: Path, version: str) -> list[FileStatus]:
    """Every file ``version`` needs, whether it is present and its size."""
    rows = []
    for rel in VERSIONS[version].all():
        p = pretrained_dir / rel
        ok = p.is_file() and p.stat().st_size > 0
        rows.append(FileStatus(rel, ok, p.stat().st_size if ok else 0))
    return rows


def missing(pretrained_dir: Path, version: str) -> list[str]:
    return [s.path for s in status(pretrained_dir, version) if not s.present]
