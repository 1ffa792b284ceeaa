"""Training forward passes of the GPT model: the official input builder, cross entropy and DPO.

Official semantics kept: padded semantic positions get the EOS id both as input and as target, so the
summed cross entropy also trains "EOS after the end"; accuracy is top-3 over non-EOS targets
(torchmetrics ``MulticlassAccuracy(top_k=3, average="micro", ignore_index=EOS)``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from GPT_SoVITS.models.gpt.model import Text2SemanticDecoder, attention_mask, pad_mask

DPO_BETA = 0.2  # official dpo_loss(..., beta=0.2, reference_free=True)


def build_training_input(
    model: Text2SemanticDecoder,
    x: torch.Tensor,
    x_lens: torch.Tensor,
    y: torch.Tensor,
    y_lens: torch.Tensor,
    bert_feature: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Official ``make_input_data``: returns (xy (B, Nx+Ny, E), mask (B, 1, L, L) True = attend, targets)."""
    eos = model.eos
    nx, ny = x.shape[1], y.shape[1]
    x_pad = pad_mask(x_lens, nx)
    y_pad = pad_mask(y_lens, ny)
    codes = y.long().masked_fill(y_pad, 0)
    # [c0 .. c_{n-1}, EOS] with EOS also on every padded slot; input = all but last, target = all but first
    full = F.pad(codes, (0, 1)) + eos * F.pad(y_pad.long(), (0, 1), value=1)
    y_in, targets = full[:, :-1], full[:, 1:]
    xy = torch.cat([model.embed_text(x, bert_feature), model.embed_audio(y_in)], dim=1)
    mask = attention_mask(nx, ny, x.device).unsqueeze(0) & ~torch.cat([x_pad, y_pad], 1)[:, None, :]
    return xy, mask.unsqueeze(1), targets


def teacher_forced_logits(
    model: Text2SemanticDecoder,
    x: torch.Tensor,
    x_lens: torch.Tensor,
    y: torch.Tensor,
    y_lens: torch.Tensor,
    bert_feature: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced logits for every position, as the official training input builder.

    Returns (logits (B, Nx + Ny, V), targets (B, Ny)); row Nx + j predicts targets[:, j].
    """
    xy, mask, targets = build_training_input(model, x, x_lens, y, y_lens, bert_feature)
    return model.logits(model.h(xy, mask)), targets


def top3_accuracy(logits: torch.Tensor, targets: torch.Tensor, ignore: int) -> float:
    """logits (B, T, V), targets (B, T): share of non-ignored targets among the 3 best logits."""
    keep = targets != ignore
    if not bool(keep.any()):
        return 0.0
    top = logits.topk(min(3, logits.shape[-1]), dim=-1).indices
    hit = (top == targets.unsqueeze(-1)).any(-1)
    return float(hit[keep].float().mean())


def _audio_logits(model: Text2SemanticDecoder, x, x_lens, y, y_lens, bert_feature):
    xy, mask, targets = build_training_input(model, x, x_lens, y, y_lens, bert_feature)
    logits = model.logits(model.h(xy, mask)[:, x.shape[1] :])  # (B, Ny, V)
    return logits, targets


def train_loss(
    model: Text2SemanticDecoder,
    x: torch.Tensor,
    x_lens: torch.Tensor,
    y: torch.Tensor,
    y_lens: torch.Tensor,
    bert_feature: torch.Tensor,
) -> tuple[torch.Tensor, float]:
    """Official ``forward_old``: (summed cross entropy, top-3 accuracy)."""
    logits, targets = _audio_logits(model, x, x_lens, y, y_lens, bert_feature)
    loss = F.cross_entropy(logits.transpose(1, 2), targets, reduction="sum")
    return loss, top3_accuracy(logits.detach(), targets, model.eos)


def make_rejected(
    y: torch.Tensor, y_lens: torch.Tensor, generator: torch.Generator | None = None, delete_prob: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupted copies of each row for DPO: a random span [a, b) repeated twice (official), or deleted.

    The official code always repeats (its coin is ``randint(0, 1)``, always 0), so ``delete_prob`` is 0 by
    default. Spans are drawn inside the valid part of each row (the official draws over the padded row).
    Returns right-padded (B, max_len) ids (pad 0, as the official) and their lengths.
    """
    rows, lens = [], []
    for b in range(y.shape[0]):
        n = int(y_lens[b])
        row = y[b, :n]
        a, e = sorted(torch.randint(0, max(n, 1), (2,), generator=generator).tolist())
        delete = delete_prob > 0 and float(torch.rand((), generator=generator)) < delete_prob
        parts = [row[:a], row[e:]] if delete else [row[:a], row[a:e], row[a:e], row[e:]]
        new = torch.cat(parts)
        rows.append(new)
        lens.append(new.shape[0])
    out = torch.zeros(len(rows), max(lens), dtype=y.dtype, device=y.device)
    for b, row in enumerate(rows):
        out[b, : row.shape[0]] = row
    return out, torch.tensor(lens, device=y.device)


def sequence_logp(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sum over positions of log p(target): (B, T, V), (B, T) -> (B,) (official ``get_batch_logps``)."""
    return logits.log_softmax(-1).gather(2, targets.unsqueeze(2)).squeeze(2).sum(-1)


def train_loss_dpo(
    model: Text2SemanticDecoder,
    x: torch.Tensor,
    x_lens: torch.Tensor,
    y: torch.Tensor,
    y_lens: torch.Tensor,
    bert_feature: torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, float]:
    """Official ``forward`` with DPO: CE(chosen) + mean(-logsigmoid(beta * (logp_chosen - logp_rejected)))."""
    reject_y, reject_lens = make_rejected(y, y_lens, generator)
    logits, targets = _audio_logits(model, x, x_lens, y, y_lens, bert_feature)
    r_logits, r_targets = _audio_logits(model, x, x_lens, reject_y, reject_lens, bert_feature)
    ce = F.cross_entropy(logits.transpose(1, 2), targets, reduction="sum")
    margin = sequence_logp(logits, targets) - sequence_logp(r_logits, r_targets)
    dpo = -F.logsigmoid(DPO_BETA * margin).mean()
    return ce + dpo, top3_accuracy(logits.detach(), targets, model.eos)
