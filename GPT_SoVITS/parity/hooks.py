"""Parity hooks: the official call signatures and the intermediates the goldens record, outside the models.

The production models expose one way to do each thing (``decode.iter_tokens`` with option objects,
``SynthesizerTrn.decode``); the goldens were recorded through the official functions' positional
signatures and with every intermediate of a SoVITS decode. The functions here adapt the first and
recompute the second by driving the models' public submodules, so none of it lives in the models:

- :func:`official_infer_panel`, :func:`official_infer_batch`: ``Text2SemanticDecoder.infer_panel`` /
  ``infer_panel_batch_infer`` signatures (x, x_lens, prompts, bert_feature, top_k, top_p,
  early_stop_num, temperature, repetition_penalty) -> ``decode.infer_panel`` / ``infer_batch``;
- :func:`infer_legacy`: the older official ``infer`` (no KV cache, top-k ``multinomial``);
- :func:`sovits_decode_steps`: ``SynthesizerTrn.decode`` returning every intermediate by golden name.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from GPT_SoVITS.models.gpt import Text2SemanticDecoder
from GPT_SoVITS.models.gpt.backends import DecodeBackend
from GPT_SoVITS.models.gpt.decode import MAX_STEPS, DecodeLimits, infer_batch, infer_panel
from GPT_SoVITS.models.gpt.model import attention_mask
from GPT_SoVITS.models.gpt.sampling import SamplingOptions, top_k_filter
from GPT_SoVITS.models.sovits import SynthesizerTrn


def _options(
    top_k: int, top_p: float, early_stop_num: int, temperature: float, repetition_penalty: float
) -> tuple[SamplingOptions, DecodeLimits]:
    return SamplingOptions(top_k, top_p, temperature, repetition_penalty), DecodeLimits(early_stop_num)


def official_infer_panel(
    model: Text2SemanticDecoder,
    x: torch.Tensor,
    x_lens: torch.Tensor | None,
    prompts: torch.Tensor | None,
    bert_feature: torch.Tensor,
    top_k: int = -100,
    top_p: float = 100,
    early_stop_num: int = -1,
    temperature: float = 1.0,
    repetition_penalty: float = 1.35,
    backend: DecodeBackend | None = None,
) -> tuple[torch.Tensor, int]:
    """Official ``infer_panel`` (positional order and defaults) -> (y (1, P + G), idx)."""
    del x_lens  # a single item needs no lengths
    sampling, limits = _options(top_k, top_p, early_stop_num, temperature, repetition_penalty)
    return infer_panel(model, x, prompts, bert_feature, sampling, limits, backend)


def official_infer_batch(
    model: Text2SemanticDecoder,
    x: Sequence[torch.Tensor],
    x_lens: torch.Tensor | None,
    prompts: torch.Tensor | None,
    bert_feature: Sequence[torch.Tensor],
    top_k: int = -100,
    top_p: float = 100,
    early_stop_num: int = -1,
    temperature: float = 1.0,
    repetition_penalty: float = 1.35,
    backend: DecodeBackend | None = None,
) -> tuple[list[torch.Tensor], list[int]]:
    """Official ``infer_panel_batch_infer`` -> (per item y[i, :-1], idx)."""
    del x_lens  # lengths are those of the items
    sampling, limits = _options(top_k, top_p, early_stop_num, temperature, repetition_penalty)
    return infer_batch(model, x, prompts, bert_feature, sampling, limits, backend)


def legacy_sample(
    logits: torch.Tensor, top_k: int, temperature: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Official ``topk_sampling`` (old ``infer``): temperature, top-k, ``torch.multinomial`` -> (B, 1)."""
    if temperature != 1.0:
        logits = logits / temperature
    if top_k > 0:
        logits = top_k_filter(logits, max(top_k, 1))
    return torch.multinomial(logits.softmax(-1), num_samples=1, generator=generator)


@torch.inference_mode()
def infer_legacy(
    model: Text2SemanticDecoder,
    x: torch.Tensor,
    x_lens: torch.Tensor | None,
    prompts: torch.Tensor | None,
    bert_feature: torch.Tensor,
    top_k: int = -100,
    early_stop_num: int = -1,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    max_steps: int = MAX_STEPS,
) -> torch.Tensor:
    """The official older ``infer``: no KV cache (the reference layers recompute the whole sequence every
    step), top-k multinomial sampling, no repetition penalty, no minimum length. Returns y (1, P + G).
    """
    del x_lens
    x_emb = model.embed_text(x, bert_feature)
    nx = x.shape[1]
    y = prompts.long() if prompts is not None else x.new_zeros(1, 0, dtype=torch.long)
    p = y.shape[1]
    eos = model.eos
    for _ in range(max_steps):
        xy = torch.cat([x_emb, model.embed_audio(y)], dim=1)
        mask = attention_mask(nx, y.shape[1], x.device)
        logits = model.logits(model.h(xy, mask)[:, -1])  # (1, V)
        token = legacy_sample(logits, top_k, temperature, generator)  # (1, 1)
        early = early_stop_num != -1 and y.shape[1] - p > early_stop_num
        if early or int(logits.argmax(-1)) == eos or int(token) == eos:
            if y.shape[1] == p:
                y = torch.cat([y, torch.zeros_like(token)], dim=1)  # official "bad zero prediction"
            break
        y = torch.cat([y, token], dim=1)
    return y


def _styles(
    model: SynthesizerTrn, refer: torch.Tensor | Sequence[torch.Tensor] | None, out: dict
) -> torch.Tensor | None:
    """The reference style vector (the mean over a list), recording ``ge_per_ref``."""
    if refer is None:
        return None
    if isinstance(refer, torch.Tensor):
        ge = model.style(refer)
        out["ge_per_ref"] = ge.unsqueeze(0)
        return ge
    ges = torch.stack([model.style(r) for r in refer], 0)  # [n_refs, B, gin, 1]
    out["ge_per_ref"] = ges
    return ges.mean(0)


@torch.no_grad()
def sovits_decode_steps(
    model: SynthesizerTrn,
    codes: torch.Tensor,
    text: torch.Tensor,
    refer: torch.Tensor | Sequence[torch.Tensor] | None,
    noise_scale: float = 0.5,
    speed: float = 1.0,
    noise: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """``SynthesizerTrn.decode`` step by step, returning every intermediate (names as in the goldens).

    speed: > 1 faster; frames become int(2T / speed) + 1 (pass a Python float, i.e. float64).
    noise: replaces the Gaussian draw ``randn_like(m_p)`` (seeded or recorded noise), [B, inter, T'].
    """
    out: dict[str, torch.Tensor] = {}
    ge = _styles(model, refer, out)
    y_lengths = torch.tensor([codes.size(2) * 2], dtype=torch.long, device=codes.device)
    text_lengths = torch.tensor([text.size(-1)], dtype=torch.long, device=text.device)
    quantized = model._upsample_codes(model.quantizer.decode(codes))
    out["enc_p_in_quantized_upsampled"] = quantized
    x, m_p, logs_p, y_mask = model.enc_p(
        quantized, y_lengths, text, text_lengths, model.text_style(ge), speed
    )
    out.update(enc_p_out_x=x, enc_p_out_m_p=m_p, enc_p_out_logs_p=logs_p, enc_p_out_y_mask=y_mask)
    noise = torch.randn_like(m_p) if noise is None else noise
    z_p = m_p + noise.to(m_p) * torch.exp(logs_p) * noise_scale
    z = model.flow(z_p, y_mask, g=ge, reverse=True)
    out.update(flow_in_z_p=z_p, flow_out_z=z, dec_in=z * y_mask)
    if ge is not None:
        out["dec_g"] = ge
    out["wav"] = model.dec(out["dec_in"], g=ge)
    return out
