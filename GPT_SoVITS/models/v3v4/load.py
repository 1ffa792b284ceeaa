"""Load v3/v4 SoVITS weights (base files and LoRA files merged onto their base) and their vocoders.

Sizes come from the files: the SoVITS config stored in the ``.pth`` (content encoder) and the state-dict
shapes (DiT, wns1; see ``sizes_from_state_dict``), the BigVGAN ``config.json``, the v4 vocoder's shapes.
Files are read with the project's restricted unpickler (``GPT_SoVITS.checkpoints``): no code runs.

Default locations follow the official ``pretrained_models`` layout (the official default_configs):

    s2Gv3.pth                                            v3 base (for v3 LoRA files)
    gsv-v4-pretrained/s2Gv4.pth                          v4 base (for v4 LoRA files)
    models--nvidia--bigvgan_v2_24khz_100band_256x/       v3 vocoder (config.json + bigvgan_generator.pt)
    gsv-v4-pretrained/vocoder.pth                        v4 vocoder
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from GPT_SoVITS.checkpoints import (  # the restricted reader of every torch file
    SOVITS_EMBEDDING_KEY,
    Checkpoint,
    CheckpointError,
    _read_bytes,
    _unpickle,
    load_sovits,
)
from GPT_SoVITS.models.cfm import DiTConfig
from GPT_SoVITS.models.sovits.build import encoder_sizes
from GPT_SoVITS.models.sovits.synthesizer_v3 import SynthesizerTrnV3, V3Sizes
from GPT_SoVITS.models.vocoder import BigVGAN, BigVGANConfig, V4VocoderConfig, build_v4_vocoder
from GPT_SoVITS.paths import PRETRAINED_DIR

log = logging.getLogger(__name__)

BASE_FILES = {"v3": Path("s2Gv3.pth"), "v4": Path("gsv-v4-pretrained") / "s2Gv4.pth"}
BIGVGAN_DIR = Path("models--nvidia--bigvgan_v2_24khz_100band_256x")
V4_VOCODER_FILE = Path("gsv-v4-pretrained") / "vocoder.pth"
LORA_PREFIX = "cfm.base_model.model."
_LORA_RE = re.compile(r"^(?P<layer>.+)\.lora_(?P<ab>[AB])\.(?P<adapter>[^.]+)\.weight$")
DIT_DIM_HEAD = 64  # every official DiT; not visible in the shapes


@dataclass(frozen=True)
class VocoderSpec:
    """How the official pipeline drives each vocoder (TTS.init_vocoder's ``vocoder_configs``)."""

    sr: int  # output sample rate
    hop: int  # output samples per mel frame
    t_ref: int  # at most this many reference mel frames are kept as the CFM prompt
    t_chunk: int  # prompt + generated frames per CFM call


VOCODER_SPECS = {"v3": VocoderSpec(24000, 256, 468, 934), "v4": VocoderSpec(48000, 480, 500, 1000)}


def _check_version(version: str) -> str:
    version = getattr(version, "value", version)
    if version not in VOCODER_SPECS:
        raise ValueError(f"version must be 'v3' or 'v4', got {version!r}")
    return str(version)


# -- sizes ---------------------------------------------------------------------------------------------


def _count(sd: Mapping[str, Any], prefix: str) -> int:
    return len({k[len(prefix) :].split(".")[0] for k in sd if k.startswith(prefix)})


def sizes_from_state_dict(sd: Mapping[str, torch.Tensor]) -> V3Sizes:
    """The hard-wired sizes of SynthesizerTrnV3 (DiT, wns1) read back from a complete state dict."""
    e = "cfm.estimator."
    dim = int(sd[e + "proj_out.weight"].shape[1])
    mel = int(sd[e + "proj_out.weight"].shape[0])
    inner = int(sd[e + "transformer_blocks.0.attn.to_q.weight"].shape[0])
    conv_layers = _count(sd, e + "text_embed.text_blocks.")
    text_dim = int(sd[e + "input_embed.proj.weight"].shape[1]) - 2 * mel
    pos_w = sd[e + "input_embed.conv_pos_embed.conv1d.0.weight"]
    dit = DiTConfig(
        dim=dim,
        depth=_count(sd, e + "transformer_blocks."),
        heads=inner // DIT_DIM_HEAD,
        dim_head=DIT_DIM_HEAD,
        ff_mult=int(sd[e + "transformer_blocks.0.ff.ff.0.0.weight"].shape[0]) // dim,
        mel_dim=mel,
        text_dim=text_dim,
        conv_layers=conv_layers,
        freq_embed_dim=int(sd[e + "time_embed.time_mlp.0.weight"].shape[1]),
        conv_pos_groups=dim // int(pos_w.shape[1]),
        conv_pos_kernel=int(pos_w.shape[2]),
    )
    return V3Sizes(
        dit=dit,
        wns1_channels=int(sd["wns1.pre.weight"].shape[0]),
        wns1_kernel=int(sd["wns1.enc.in_layers.0.weight_v"].shape[2]),
        wns1_layers=_count(sd, "wns1.enc.in_layers."),
        mel_bins=int(sd["linear_mel.weight"].shape[0]),
    )


def build_v3v4(config: Mapping[str, Any], version: str, sd: Mapping[str, torch.Tensor]) -> SynthesizerTrnV3:
    """A randomly initialised SynthesizerTrnV3 shaped by a file's config (``model``) and state dict."""
    model = config.get("model") if isinstance(config, Mapping) else None
    if not isinstance(model, Mapping):
        raise KeyError("SoVITS config has no 'model' section")
    try:
        return SynthesizerTrnV3(
            **encoder_sizes(model),
            gin_channels=int(model["gin_channels"]),
            version=_check_version(version),
            n_symbols=int(sd[SOVITS_EMBEDDING_KEY].shape[0]),
            sizes=sizes_from_state_dict(sd),
        )
    except KeyError as e:
        raise KeyError(f"SoVITS config or weights lack {e.args[0]!r}") from e


# -- LoRA ----------------------------------------------------------------------------------------------


def merge_lora(
    base: Mapping[str, torch.Tensor], lora: Mapping[str, torch.Tensor], rank: int, alpha: float | None = None
) -> dict[str, torch.Tensor]:
    """Base state dict (float32) + a LoRA file's weights -> the merged state dict (keys of the base).

    Non-LoRA entries of the LoRA file replace the base's (the fine-tuned ref_enc, bridge, wns1, ...);
    each LoRA pair gives W + (alpha / rank) * B @ A (alpha = rank in every official file).
    """
    scale = (rank if alpha is None else alpha) / rank
    merged = {k: v.float() for k, v in base.items()}
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in lora.items():
        name = "cfm." + key[len(LORA_PREFIX) :] if key.startswith(LORA_PREFIX) else key
        m = _LORA_RE.match(name)
        if m:
            pairs.setdefault(m["layer"], {})[m["ab"]] = value.float()
            continue
        name = name.replace(".base_layer.", ".")
        if name not in merged:
            raise KeyError(f"LoRA entry {key!r} has no counterpart in the base model")
        merged[name] = value.float()
    for layer, ab in pairs.items():
        key = layer + ".weight"
        if set(ab) != {"A", "B"} or key not in merged:
            raise KeyError(f"LoRA layer {layer!r}: incomplete A/B pair or not in the base model")
        merged[key] = merged[key] + (ab["B"] @ ab["A"]) * scale
    return merged


# -- SoVITS --------------------------------------------------------------------------------------------


def _load_into(model: nn.Module, sd: Mapping[str, torch.Tensor], path: Path) -> None:
    result = model.load_state_dict(dict(sd), strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            path,
            f"weights do not fit the v3/v4 model: missing {result.missing_keys[:5]} "
            f"({len(result.missing_keys)}), unexpected {result.unexpected_keys[:5]} "
            f"({len(result.unexpected_keys)})",
        )


def default_base_path(version: str, pretrained_dir: str | os.PathLike = PRETRAINED_DIR) -> Path:
    return Path(pretrained_dir) / BASE_FILES[_check_version(version)]


def load_v3v4_sovits(
    path: str | os.PathLike | Checkpoint,
    version: str,
    is_lora: bool,
    pretrained_dir: str | os.PathLike = PRETRAINED_DIR,
    base_path: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
) -> SynthesizerTrnV3:
    """A v3/v4 SoVITS file -> SynthesizerTrnV3 in eval mode, float32.

    ``version`` / ``is_lora`` come from detection (headers 03/04 mark LoRA files). A LoRA file is merged
    onto its base (``base_path``, default ``<pretrained_dir>/s2Gv3.pth`` or ``gsv-v4-pretrained/s2Gv4.pth``).
    """
    version = _check_version(version)
    ckpt = path if isinstance(path, Checkpoint) else load_sovits(path)
    if not is_lora:
        sd = {k: v.float() for k, v in ckpt.weight.items() if not k.startswith("enc_q.")}
        try:
            model = build_v3v4(ckpt.config, version, sd)
        except KeyError as e:
            raise CheckpointError(ckpt.path, f"not a complete {version} model ({e.args[0]})") from e
        _load_into(model, sd, ckpt.path)
        return model.to(device).eval()
    base_file = Path(base_path) if base_path is not None else default_base_path(version, pretrained_dir)
    if not base_file.is_file():
        raise CheckpointError(
            ckpt.path,
            f"is a {version} LoRA file; its base model {base_file} is missing "
            f"(the pretrained {version} base must be there)",
        )
    base = load_sovits(base_file)
    base_sd = {k: v for k, v in base.weight.items() if not k.startswith("enc_q.")}
    if not any(k.startswith("cfm.estimator.") for k in base_sd):
        raise CheckpointError(
            base_file, f"is not a {version} base model (no cfm.estimator weights) for LoRA file {ckpt.path}"
        )
    rank = ckpt.lora_rank or _lora_rank_from_shapes(ckpt.weight)
    try:
        merged = merge_lora(base_sd, ckpt.weight, rank)
        model = build_v3v4(ckpt.config or base.config, version, merged)
    except KeyError as e:
        raise CheckpointError(ckpt.path, f"LoRA file does not fit its base {base_file}: {e.args[0]}") from e
    _load_into(model, merged, ckpt.path)
    return model.to(device).eval()


def _lora_rank_from_shapes(weight: Mapping[str, torch.Tensor]) -> int:
    for key, value in weight.items():
        if ".lora_A." in key:
            return int(value.shape[0])
    raise KeyError("no LoRA matrices in the file")


# -- vocoders ------------------------------------------------------------------------------------------


class VocoderError(CheckpointError):
    """A missing vocoder or one of the wrong kind; the message names the file."""


def _read_torch(path: Path) -> Any:
    data, _header = _read_bytes(path)
    return _unpickle(path, data)


def vocoder_path(version: str, pretrained_dir: str | os.PathLike = PRETRAINED_DIR) -> Path:
    version = _check_version(version)
    return Path(pretrained_dir) / (BIGVGAN_DIR if version == "v3" else V4_VOCODER_FILE)


def load_vocoder(
    version: str,
    pretrained_dir: str | os.PathLike = PRETRAINED_DIR,
    path: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
) -> tuple[nn.Module, VocoderSpec]:
    """The vocoder of ``version`` (weight norm folded, eval, float32) and how the pipeline drives it.

    v3: a BigVGAN folder (config.json + bigvgan_generator.pt); v4: vocoder.pth (a plain state dict).
    """
    version = _check_version(version)
    path = Path(path) if path is not None else vocoder_path(version, pretrained_dir)
    what = "BigVGAN folder (config.json + bigvgan_generator.pt)" if version == "v3" else "vocoder.pth"
    if not path.exists():
        raise VocoderError(path, f"{version} models need their vocoder, a {what}; it is missing")
    model = _load_bigvgan(path) if version == "v3" else _load_v4_vocoder(path)
    return model.to(device).eval(), VOCODER_SPECS[version]


def _load_bigvgan(folder: Path) -> BigVGAN:
    if not folder.is_dir():
        raise VocoderError(
            folder, "v3 needs a BigVGAN folder (config.json + bigvgan_generator.pt), got a file"
        )
    config_file, weight_file = folder / "config.json", folder / "bigvgan_generator.pt"
    for f in (config_file, weight_file):
        if not f.is_file():
            raise VocoderError(f, "missing: the v3 vocoder folder needs config.json and bigvgan_generator.pt")
    try:
        cfg = BigVGANConfig.from_json(json.loads(config_file.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as e:
        raise VocoderError(config_file, f"not a BigVGAN config ({e})") from e
    obj = _read_torch(weight_file)
    sd = obj.get("generator") if isinstance(obj, Mapping) else None
    if not isinstance(sd, Mapping):
        raise VocoderError(weight_file, "no 'generator' state dict: not a BigVGAN checkpoint")
    if not any(k.startswith("activation_post.") for k in sd):
        raise VocoderError(
            weight_file, "is not a BigVGAN generator (no anti-aliased activations); wrong vocoder"
        )
    model = BigVGAN(cfg)
    if not any(k.endswith("weight_v") for k in sd):  # saved with weight norm already removed
        model.remove_weight_norm()
    _load_into(model, {k: v.float() for k, v in sd.items()}, weight_file)
    model.remove_weight_norm()
    return model


def _load_v4_vocoder(path: Path) -> nn.Module:
    if path.is_dir():
        raise VocoderError(
            path, "v4 needs vocoder.pth (HiFi-GAN state dict), got a folder (a BigVGAN is the v3 vocoder)"
        )
    obj = _read_torch(path)
    if isinstance(obj, Mapping) and "generator" in obj:
        raise VocoderError(
            path, "is a BigVGAN checkpoint (the v3 vocoder); v4 needs gsv-v4-pretrained/vocoder.pth"
        )
    if not isinstance(obj, Mapping) or "conv_pre.weight" not in obj or "ups.0.weight" not in obj:
        raise VocoderError(path, "is not a v4 vocoder state dict (conv_pre / ups weights expected)")
    sd = {k: v.float() for k, v in obj.items()}
    model = build_v4_vocoder(V4VocoderConfig.from_state_dict(sd))
    _load_into(model, sd, path)
    return model
