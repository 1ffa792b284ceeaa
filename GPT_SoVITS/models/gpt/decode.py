"""Autoregressive decoding of semantic tokens with the official semantics.

Pieces (each does one job): ``prefill`` runs text + prompt once and fills a preallocated KV cache;
``backend.step`` feeds one token (``backends``); ``sampling.sample`` turns logits into a token;
``iter_tokens`` is the official ``infer_panel`` loop as a generator (for streaming); ``infer_panel``
collects it; ``infer_batch`` is the batched path (left-padded text). Every loop takes the same three
objects: ``SamplingOptions`` (how a token is drawn), ``DecodeLimits`` (when a run stops) and the
``DecodeBackend`` chosen at the entry point. The official positional signatures are adapters in
``GPT_SoVITS.parity.hooks``.

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

from GPT_SoVITS.models.gpt.backends import DecodeBackend, TorchBackend
from GPT_SoVITS.models.gpt.cache import KVCache
from GPT_SoVITS.models.gpt.model import Text2SemanticDecoder, attention_mask
from GPT_SoVITS.models.gpt.sampling import SamplingOptions, sample

MIN_STEPS = 11  # official: "at least 10 tokens (0.4 s) before EOS is allowed"
MAX_STEPS = 1500  # official loop bound


@dataclass(frozen=True)
class DecodeLimits:
    """When a run stops besides EOS, with the official defaults of ``infer_panel``."""

    early_stop_num: int = -1  # stop once more than this many tokens exist; -1: never
    max_steps: int = MAX_STEPS  # loop bound (sampling steps)

    @property
    def steps(self) -> int:
        """Steps a run can take: the early stop fires once early_stop_num + 1 tokens exist (cache size)."""
        if self.early_stop_num == -1:
            return self.max_steps
        return max(1, min(self.max_steps, self.early_stop_num + 1))

    def early_stop(self, generated: int) -> bool:
        """The official early stop: more than ``early_stop_num`` tokens generated."""
        return self.early_stop_num != -1 and generated > self.early_stop_num


OFFICIAL_SAMPLING = SamplingOptions()  # the official defaults of infer_panel
OFFICIAL_LIMITS = DecodeLimits()


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
    backend: DecodeBackend,
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
    hidden = backend.prefill(model, xy, mask, cache)
    return model.logits(hidden[:, -1])


def _embed_inputs(model, x, bert_feature, prompts):
    x_emb = model.embed_text(x, bert_feature)
    has_prompt = prompts is not None and prompts.shape[1] > 0
    y_emb = model.embed_audio(prompts) if has_prompt else None
    return x_emb, y_emb


@torch.inference_mode()
def iter_tokens(
    model: Text2SemanticDecoder,
    x: torch.Tensor,
    prompts: torch.Tensor | None,
    bert_feature: torch.Tensor,
    sampling: SamplingOptions = OFFICIAL_SAMPLING,
    limits: DecodeLimits = OFFICIAL_LIMITS,
    backend: DecodeBackend | None = None,
    generator: torch.Generator | None = None,
) -> Generator[int, None, DecodeInfo]:
    """Yield each kept semantic token of one item as soon as it is decided; return a DecodeInfo.

    x: (1, Nx) phoneme ids, prompts: (1, P) codes or None (reference-free), bert_feature: (1, 1024, Nx).
    backend: the layers' runner (``backends.choose_backend``); None: a float32 ``TorchBackend``.
    """
    backend = backend or TorchBackend()
    p = 0 if prompts is None else prompts.shape[1]
    max_steps = limits.steps
    tokens = torch.zeros(1, p + max_steps, dtype=torch.long, device=x.device)  # prompt + generated
    if p:
        tokens[:, :p] = prompts
    cache = model.new_cache(1, x.shape[1] + p + max_steps, x.device)
    logits = prefill(model, *_embed_inputs(model, x, bert_feature, prompts), cache, backend)
    eos = model.eos
    for s in range(max_steps):
        if s < MIN_STEPS:
            logits = logits[:, :eos]  # EOS is the last column
        token = sample(logits, tokens[:, : p + s], sampling, generator)  # penalises logits in place
        tokens[:, p + s] = token[:, 0]
        t = int(token)
        if t == eos or int(logits.argmax(-1)) == eos:
            return DecodeInfo(0 if prompts is None else s, s + 1, "eos")
        yield t
        if limits.early_stop(s + 1):
            return DecodeInfo(0 if prompts is None else s, s + 1, "early_stop")
        if s + 1 < max_steps:
            logits = backend.step(model, token, p + s, cache)
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
    prompts: torch.Tensor | None,
    bert_feature: torch.Tensor,
    sampling: SamplingOptions = OFFICIAL_SAMPLING,
    limits: DecodeLimits = OFFICIAL_LIMITS,
    backend: DecodeBackend | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, int]:
    """Official ``infer_panel``: (y (1, P + G) = prompt followed by the kept tokens, idx)."""
    gen = iter_tokens(model, x, prompts, bert_feature, sampling, limits, backend, generator)
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


class _Batch:
    """A batched run's active rows (their tokens, key mask and cache) and the finished items' results."""

    def __init__(self, prompts: torch.Tensor, text_ok: torch.Tensor, cache: KVCache, steps: int) -> None:
        b, self.p = prompts.shape
        self.rows = list(range(b))  # original item of each active row
        self.tokens = F.pad(prompts.long(), (0, steps))  # (B, P + steps)
        self.key_ok = F.pad(text_ok, (0, self.p + steps), value=True)  # (B, N + P + steps)
        self.cache = cache
        self.y: list[torch.Tensor | None] = [None] * b
        self.idx = [steps - 1] * b

    def finish(self, done: torch.Tensor, s: int, last: bool) -> torch.Tensor | None:
        """Record the rows done at step s (all if ``last``); return the rows to keep, or None if none."""
        for i in range(len(self.rows)):
            if last or bool(done[i]):
                self.y[self.rows[i]] = self.tokens[i, : self.p + s].clone()
                self.idx[self.rows[i]] = s
        if last or bool(done.all()):
            return None
        keep = (~done).nonzero()[:, 0]
        if len(keep) < len(self.rows):
            self.rows = [self.rows[i] for i in keep.tolist()]
            self.tokens, self.key_ok = self.tokens[keep], self.key_ok[keep]
            self.cache.keep(keep)
        return keep

    def results(self) -> tuple[list[torch.Tensor], list[int]]:
        return [t if t is not None else self.tokens.new_zeros(0) for t in self.y], self.idx


@torch.inference_mode()
def infer_batch(
    model: Text2SemanticDecoder,
    x: Sequence[torch.Tensor],
    prompts: torch.Tensor | None,
    bert_feature: Sequence[torch.Tensor],
    sampling: SamplingOptions = OFFICIAL_SAMPLING,
    limits: DecodeLimits = OFFICIAL_LIMITS,
    backend: DecodeBackend | None = None,
    generator: torch.Generator | None = None,
) -> tuple[list[torch.Tensor], list[int]]:
    """Official ``infer_panel_batch_infer``: x[i] (N_i,) ids, bert_feature[i] (1024, N_i), prompts (B, P).

    Returns per item ``y[i, :-1]`` (prompt + generated, last token dropped) and ``idx``. Items that finish
    leave the batch. Reference-free input falls back to one ``infer_panel`` per item, as the official.
    """
    backend = backend or TorchBackend()
    if prompts is None:
        runs = [
            infer_panel(model, xi[None], None, bi[None], sampling, limits, backend, generator)
            for xi, bi in zip(x, bert_feature, strict=True)
        ]
        return [y[0] for y, _ in runs], [idx for _, idx in runs]
    b, p = prompts.shape
    steps = limits.steps
    x_emb, text_ok = _left_padded_text(model, x, bert_feature)
    run = _Batch(prompts, text_ok, model.new_cache(b, x_emb.shape[1] + p + steps, x_emb.device), steps)
    logits = prefill(model, x_emb, model.embed_audio(prompts), run.cache, backend, run.key_ok)
    eos = model.eos
    for s in range(steps):
        if s < MIN_STEPS:
            logits = logits[:, :eos]
        token = sample(logits, run.tokens[:, : p + s], sampling, generator)  # (B, 1)
        run.tokens[:, p + s] = token[:, 0]
        done = (token[:, 0] == eos) | (logits.argmax(-1) == eos)
        keep = run.finish(done, s, limits.early_stop(s + 1) or s == steps - 1)
        if keep is None:
            break
        logits = backend.step(model, token[keep], p + s, run.cache, run.key_ok)
    return run.results()
