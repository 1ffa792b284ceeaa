"""Autoregressive decoding of semantic tokens with the official semantics.

Pieces (each does one job): ``prefill`` runs text + prompt once and fills a preallocated KV cache;
``step`` feeds one token; ``sampling.sample`` turns logits into a token; ``iter_tokens`` is the official
``infer_panel`` loop as a generator (for streaming); ``infer_panel`` collects it; ``infer_batch`` is the
batched path (left-padded text); ``infer_legacy`` is the old ``infer`` (no cache, full recomputation).

Official quirks kept on purpose (shared/parity/README.md section 4d):
- EOS cannot be chosen during the first ``MIN_STEPS`` steps (its column is dropped);
- the repetition penalty modifies the logits in place, so the EOS test uses the penalised logits;
- a run stops when the argmax or the sampled token is EOS (the last token is then removed and ``idx`` is
  the number of generated tokens), or once more than ``early_stop_num`` tokens exist (nothing is removed
  and ``idx`` is one less than the number generated); reference-free runs return ``idx = 0``;
- the batch path returns ``y[i, :-1]`` per item whatever the last token is.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from GPT_SoVITS.models.gpt.cache import KVCache
from GPT_SoVITS.models.gpt.fastpath import StepWeights
from GPT_SoVITS.models.gpt.model import Text2SemanticDecoder
from GPT_SoVITS.models.gpt.sampling import SamplingOptions, legacy_sample, sample
from GPT_SoVITS.models.gpt.training import attention_mask

MIN_STEPS = 11  # official: "at least 10 tokens (0.4 s) before EOS is allowed"
MAX_STEPS = 1500  # official loop bound


@dataclass(frozen=True)
class DecodeInfo:
    """How a run ended: ``idx`` as the official function returns it, ``steps`` sampling steps done."""

    idx: int
    steps: int
    reason: str  # "eos", "early_stop" or "max_steps"


def prefill(
    model: Text2SemanticDecoder,
    x_emb: torch.Tensor,
    y_emb: torch.Tensor | None,
    cache: KVCache,
    key_ok: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run text (B, Nx, E) + prompt (B, P, E) through the stack once; return the last logits (B, V).

    key_ok: (B, S>=Nx+P) bool, False at left padding that no query may attend to.
    """
    parts = [x_emb] if y_emb is None else [x_emb, y_emb]
    xy = torch.cat(parts, dim=1)
    nx, ny = x_emb.shape[1], xy.shape[1] - x_emb.shape[1]
    mask = attention_mask(nx, ny, xy.device)[None, None]  # (1, 1, L, L)
    if key_ok is not None:
        mask = mask & key_ok[:, None, None, : nx + ny]
    hidden = model.h(xy, mask, cache)
    return model.logits(hidden[:, -1])


# Intra-op threads for one CPU decoding step. Its products have one row: MKL runs them on one thread
# whatever the setting (measured equal at 1 and 2 threads), and the rest are tiny ops. But every op that
# opens an OpenMP region waits for all threads, so with a core busy elsewhere a 2-thread step took
# 550 ms instead of 26 ms (2-core machine, another process on both cores). None: leave torch's setting.
STEP_THREADS: int | None = 1


def step(
    model: Text2SemanticDecoder,
    token: torch.Tensor,
    position: int,
    cache: KVCache,
    key_ok: torch.Tensor | None = None,
    weights: StepWeights | None = None,
) -> torch.Tensor:
    """Feed tokens (B, 1) at audio position ``position``; return the next logits (B, V).

    weights: ``model.h.step_weights()`` (kept with the model). On CPU the step runs with
    ``STEP_THREADS`` intra-op threads; the process setting is restored afterwards.
    """
    n = torch.get_num_threads()
    switch = token.device.type == "cpu" and STEP_THREADS is not None and n != STEP_THREADS
    if switch:
        torch.set_num_threads(STEP_THREADS)
    try:
        return model.step_logits(token, position, cache, weights or model.h.step_weights(), key_ok)
    finally:
        if switch:
            torch.set_num_threads(n)


def _embed_inputs(model, x, bert_feature, prompts):
    x_emb = model.embed_text(x, bert_feature)
    has_prompt = prompts is not None and prompts.shape[1] > 0
    y_emb = model.embed_audio(prompts) if has_prompt else None
    return x_emb, y_emb


def _step_limit(max_steps: int, early_stop_num: int) -> int:
    """Steps a run can take: the early stop fires once early_stop_num + 1 tokens exist (sizes the cache)."""
    return max_steps if early_stop_num == -1 else max(1, min(max_steps, early_stop_num + 1))


@torch.inference_mode()
def iter_tokens(
    model: Text2SemanticDecoder,
    x: torch.Tensor,
    x_lens: torch.Tensor | None,
    prompts: torch.Tensor | None,
    bert_feature: torch.Tensor,
    top_k: int = -100,
    top_p: float = 100,
    temperature: float = 1.0,
    early_stop_num: int = -1,
    repetition_penalty: float = 1.35,
    generator: torch.Generator | None = None,
    max_steps: int = MAX_STEPS,
    precision: str = "fp32",
) -> Generator[int, None, DecodeInfo]:
    """Yield each kept semantic token of one item as soon as it is decided; return a DecodeInfo.

    x: (1, Nx) phoneme ids, prompts: (1, P) codes or None (reference-free), bert_feature: (1, 1024, Nx).
    precision: the per-token step's matrices: "fp32" (exact, default) or the opt-in lossy "bf16"/"fp16"
    (fastpath.PRECISIONS; the prefill and the logits stay in the model's dtype).
    """
    del x_lens  # the official signature carries it; a single item needs no lengths
    options = SamplingOptions(top_k, top_p, temperature, repetition_penalty)
    p = 0 if prompts is None else prompts.shape[1]
    max_steps = _step_limit(max_steps, early_stop_num)
    tokens = torch.zeros(1, p + max_steps, dtype=torch.long, device=x.device)  # prompt + generated
    if p:
        tokens[:, :p] = prompts
    cache = model.new_cache(1, x.shape[1] + p + max_steps, x.device)
    logits = prefill(model, *_embed_inputs(model, x, bert_feature, prompts), cache)
    weights = model.h.step_weights(precision)
    eos = model.eos
    for s in range(max_steps):
        if s < MIN_STEPS:
            logits = logits[:, :eos]  # EOS is the last column
        token = sample(logits, tokens[:, : p + s], options, generator)  # penalises logits in place
        tokens[:, p + s] = token[:, 0]
        t = int(token)
        if t == eos or int(logits.argmax(-1)) == eos:
            return DecodeInfo(0 if prompts is None else s, s + 1, "eos")
        yield t
        if early_stop_num != -1 and s + 1 > early_stop_num:
            return DecodeInfo(0 if prompts is None else s, s + 1, "early_stop")
        if s + 1 < max_steps:
            logits = step(model, token, p + s, cache, weights=weights)
    return DecodeInfo(0 if prompts is None else max_steps - 1, max_steps, "max_steps")


def _collect(gen: Generator[int, None, DecodeInfo]) -> tuple[list[int], DecodeInfo]:
    out: list[int] = []
    while True:
        try:
            out.append(next(gen))
        except StopIteration as stop:
            return out, stop.value


def infer_panel(
    model: Text2SemanticDecoder,
    x: torch.Tensor,
    x_lens: torch.Tensor | None,
    prompts: torch.Tensor | None,
    bert_feature: torch.Tensor,
    top_k: int = -100,
    top_p: float = 100,
    temperature: float = 1.0,
    early_stop_num: int = -1,
    repetition_penalty: float = 1.35,
    generator: torch.Generator | None = None,
    max_steps: int = MAX_STEPS,
    precision: str = "fp32",
) -> tuple[torch.Tensor, int]:
    """Official ``infer_panel``: (y (1, P + G) = prompt followed by the kept tokens, idx)."""
    gen = iter_tokens(
        model, x, x_lens, prompts, bert_feature, top_k, top_p, temperature,
        early_stop_num, repetition_penalty, generator, max_steps, precision,
    )  # fmt: skip
    new, info = _collect(gen)
    if prompts is None and not new:
        new = [0]  # official "bad zero prediction": never return an empty sequence
    y = torch.tensor([new], dtype=torch.long, device=x.device)
    if prompts is not None:
        y = torch.cat([prompts.long(), y], dim=1)
    return y, info.idx


def _left_padded_text(model, x: Sequence[torch.Tensor], bert_feature: Sequence[torch.Tensor]):
    """Embed each item on its own (positions from 0), then left-pad to the longest: (B, N, E), (B, N) ok."""
    embs = [model.embed_text(xi[None], bi[None])[0] for xi, bi in zip(x, bert_feature, strict=True)]
    n = max(e.shape[0] for e in embs)
    padded = torch.stack([F.pad(e, (0, 0, n - e.shape[0], 0)) for e in embs])
    ok = torch.stack([torch.arange(n, device=padded.device) >= n - e.shape[0] for e in embs])
    return padded, ok


@torch.inference_mode()
def infer_batch(
    model: Text2SemanticDecoder,
    x: Sequence[torch.Tensor],
    x_lens: torch.Tensor | None,
    prompts: torch.Tensor | None,
    bert_feature: Sequence[torch.Tensor],
    top_k: int = -100,
    top_p: float = 100,
    temperature: float = 1.0,
    early_stop_num: int = -1,
    repetition_penalty: float = 1.35,
    generator: torch.Generator | None = None,
    max_steps: int = MAX_STEPS,
    precision: str = "fp32",
) -> tuple[list[torch.Tensor], list[int]]:
    """Official ``infer_panel_batch_infer``: x[i] (N_i,) ids, bert_feature[i] (1024, N_i), prompts (B, P).

    Returns per item ``y[i, :-1]`` (prompt + generated, last token dropped) and ``idx``. Items that finish
    leave the batch. Reference-free input falls back to one ``infer_panel`` per item, as the official.
    """
    del x_lens  # lengths are those of the items
    if prompts is None:
        runs = [
            infer_panel(model, xi[None], None, None, bi[None], top_k, top_p, temperature,
                        early_stop_num, repetition_penalty, generator, max_steps, precision)
            for xi, bi in zip(x, bert_feature, strict=True)
        ]  # fmt: skip
        return [y[0] for y, _ in runs], [idx for _, idx in runs]
    options = SamplingOptions(top_k, top_p, temperature, repetition_penalty)
    b, p = prompts.shape
    max_steps = _step_limit(max_steps, early_stop_num)
    x_emb, text_ok = _left_padded_text(model, x, bert_feature)
    n = x_emb.shape[1]
    key_ok = F.pad(text_ok, (0, p + max_steps), value=True)  # (B, N + P + max_steps)
    tokens = F.pad(prompts.long(), (0, max_steps))  # (B, P + max_steps)
    cache = model.new_cache(b, n + p + max_steps, x_emb.device)
    logits = prefill(model, x_emb, model.embed_audio(prompts), cache, key_ok)
    weights = model.h.step_weights(precision)
    rows = list(range(b))  # original item of each active row
    y_out: list[torch.Tensor | None] = [None] * b
    idx_out: list[int] = [max_steps - 1] * b
    eos = model.eos
    for s in range(max_steps):
        if s < MIN_STEPS:
            logits = logits[:, :eos]
        token = sample(logits, tokens[:, : p + s], options, generator)  # (B, 1)
        tokens[:, p + s] = token[:, 0]
        done = (token[:, 0] == eos) | (logits.argmax(-1) == eos)
        last = (early_stop_num != -1 and s + 1 > early_stop_num) or s == max_steps - 1
        for i in range(len(rows)):
            if last or bool(done[i]):
                y_out[rows[i]] = tokens[i, : p + s].clone()
                idx_out[rows[i]] = s
        if last or bool(done.all()):
            break
        if bool(done.any()):
            keep = (~done).nonzero()[:, 0]
            rows = [rows[i] for i in keep.tolist()]
            tokens, key_ok, token = tokens[keep], key_ok[keep], token[keep]
            cache.keep(keep)
        logits = step(model, token, p + s, cache, key_ok, weights)
    return [t if t is not None else tokens.new_zeros(0) for t in y_out], idx_out


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
    """The official older ``infer``: no KV cache (the whole sequence is recomputed every step), top-k
    multinomial sampling, no repetition penalty, no minimum length. Returns y (1, P + G).
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
