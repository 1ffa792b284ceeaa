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
SOVITS_CKPT_DIR = "logs_s2"
GPT_CKPT_DIR = "logs_s1"
PROGRESS_FILE = "progress.jsonl"


def sovits_weight_name(exp: str, epoch: int, step: int) -> str:
    """Official SoVITS export name: ``<exp>_e<E>_s<S>.pth``."""
    return f"{exp}_e{epoch}_s{step}.pth"


def gpt_weight_name(exp: str, epoch: int) -> str:
    """Official GPT export name: ``<exp>-e<E>.ckpt``."""
    return f"{exp}-e{epoch}.ckpt"
