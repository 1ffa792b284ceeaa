"""Every experiment artifact name, in one place (the official ``logs/<exp>`` layout)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PRETRAINED_DIR = REPO_ROOT / "pretrained_models"
GPT_WEIGHTS_DIR = REPO_ROOT / "GPT_weights"
SOVITS_WEIGHTS_DIR = REPO_ROOT / "SoVITS_weights"
OUTPUT_DIR = REPO_ROOT / "output"

DEFAULT_BERT_DIR = PRETRAINED_DIR / "chinese-roberta-wwm-ext-large"
DEFAULT_HUBERT_DIR = PRETRAINED_DIR / "chinese-hubert-base"
DEFAULT_WHISPER_DIR = PRETRAINED_DIR / "faster-whisper-base"

# Inside an experiment folder logs/<exp>/
NAME2TEXT = "2-name2text.txt"
BERT_DIR = "3-bert"
HUBERT_DIR = "4-cnhubert"
WAV32K_DIR = "5-wav32k"
NAME2SEMANTIC = "6-name2semantic.tsv"
SV_DIR = "7-sv_cn"  # v2Pro/v2ProPlus: SV embedding of each 5-wav32k clip, <name>.pt = [1, 20480] float
SOVITS_CKPT_DIR = "logs_s2"  # + "_<version>": training checkpoints G_<step>.pth / D_<step>.pth
GPT_CKPT_DIR = "logs_s1"  # + "_<version>": training checkpoints GPT_<step>.pth
DROPPED = "dropped.tsv"  # items a formatting stage dropped on purpose: name<TAB>stage<TAB>reason
PROGRESS_FILE = "progress.jsonl"


def ckpt_dir(kind: str, version: str) -> str:
    """Training-checkpoint folder of an experiment (official naming): ``logs_s1_v2``, ``logs_s2_v2``."""
    base = {"gpt": GPT_CKPT_DIR, "sovits": SOVITS_CKPT_DIR}[kind]
    return f"{base}_{version}"


def sovits_weight_name(exp: str, epoch: int, step: int) -> str:
    """Official SoVITS export name: ``<exp>_e<E>_s<S>.pth``."""
    return f"{exp}_e{epoch}_s{step}.pth"


def gpt_weight_name(exp: str, epoch: int) -> str:
    """Official GPT export name: ``<exp>-e<E>.ckpt``."""
    return f"{exp}-e{epoch}.ckpt"
