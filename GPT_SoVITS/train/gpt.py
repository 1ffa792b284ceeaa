"""Train the GPT (stage 1, text -> semantic tokens) on a formatted experiment; export official weights.

``python -m GPT_SoVITS.train.gpt --exp logs/<exp> [--pretrained s1.ckpt] --epochs 15 --batch-size 8
--save-every 5 [--dpo]``; several processes: ``torchrun --nproc-per-node N -m GPT_SoVITS.train.gpt ...``

Summed cross entropy on the semantic tokens (EOS after the last) conditioned on phonemes + BERT features,
``--dpo`` adds the official reference-free DPO term on rejected sequences (a random token span duplicated or
deleted). Gradients of ``accumulate`` batches make one optimiser step; global grad-norm clipping; lr warmup
then cosine decay. Checkpoints: ``<exp>/logs_s1_<version>/GPT_<step>.pth`` (atomic, resumable); exports:
``<weights-dir>/<exp>-e<E>.ckpt`` (official format).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader

from GPT_SoVITS import paths
from GPT_SoVITS.config.gpt import GPTConfig, default_gpt_config
from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.data.gpt_dataset import GPTDataset
from GPT_SoVITS.data.sampler import BucketBatchSampler
from GPT_SoVITS.data.validate import require_consistent
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.train import cli
from GPT_SoVITS.train.common import (
    CheckpointDir,
    Metrics,
    barrier,
    find_batch_size,
    remove_partials,
    restore_rng,
    rng_state,
    seed_everything,
)
from GPT_SoVITS.train.optim import ScaledAdamLite, WarmupCosine

log = logging.getLogger(__name__)
STAGE = "train.gpt"
BATCH_KEYS = ("phoneme_ids", "phoneme_ids_len", "semantic_ids", "semantic_ids_len", "bert_feature")


class TrainForward(nn.Module):
    """Makes ``forward_train`` / ``forward_train_dpo`` the ``forward`` DDP hooks its gradient sync into."""

    def __init__(self, model: nn.Module, dpo: bool) -> None:
        super().__init__()
        self.model = model
        self.dpo = dpo

    def forward(self, x, x_lens, y, y_lens, bert):  # -> (loss, acc)
        fn = self.model.forward_train_dpo if self.dpo else self.model.forward_train
        return fn(x, x_lens, y, y_lens, bert)


def load_config(args: argparse.Namespace) -> GPTConfig:
    """--config (YAML or JSON), else the pretrained file's config, else the official defaults; then flags."""
    if args.config is not None:
        text = args.config.read_text(encoding="utf-8")
        if args.config.suffix in (".yaml", ".yml"):
            import yaml

            cfg = GPTConfig.from_dict(yaml.safe_load(text))
        else:
            cfg = GPTConfig.from_dict(json.loads(text))
    elif args.pretrained is not None:
        from GPT_SoVITS.checkpoints import load_gpt

        cfg = GPTConfig.from_dict(load_gpt(args.pretrained).config)
    else:
        cfg = default_gpt_config(args.version)
    cli.apply_common(cfg.train, args, lr_field=None)
    if args.lr is not None:
        cfg.optimizer.lr = args.lr
    if args.accumulate is not None:
        cfg.train.accumulate_grad_batches = args.accumulate
    cfg.extra.update(
        train_semantic_path=str(Path(args.exp) / paths.NAME2SEMANTIC),
        train_phoneme_path=str(Path(args.exp) / paths.NAME2TEXT),
        output_dir=str(Path(args.exp) / f"{paths.GPT_CKPT_DIR}_{args.version}"),
        pretrained_s1=str(args.pretrained or ""),
    )
    return cfg


def load_pretrained(model: nn.Module, path: Path) -> str:
    from GPT_SoVITS.checkpoints import load_gpt

    weight = {k.removeprefix("model."): v.float() for k, v in load_gpt(path).weight.items()}
    own = model.state_dict()
    usable = {k: v for k, v in weight.items() if k in own and own[k].shape == v.shape}
    result = model.load_state_dict(usable, strict=False)
    skipped = sorted(set(weight) - set(usable))
    note = f"{path}: loaded {len(usable)} tensors"
    if result.missing_keys:
        note += f"; missing (kept random): {', '.join(sorted(result.missing_keys)[:8])}"
    if skipped:
        note += f"; not used (absent or other shape): {', '.join(skipped[:8])}"
    log.info("%s", note)
    return note


def export(model: nn.Module, cfg: GPTConfig, args: argparse.Namespace, epoch: int) -> Path:
    from GPT_SoVITS.checkpoints import save_gpt

    path = args.weights_dir / paths.gpt_weight_name(args.name, epoch)
    save_gpt(path, model.state_dict(), cfg.to_dict(), f"GPT-e{epoch}")
    return path


def run(args: argparse.Namespace, progress: ProgressLog | None) -> str:
    from GPT_SoVITS.models.gpt import build_gpt

    exp = Experiment(args.exp)
    ctx, amp = cli.setup_runtime(args)
    seed_everything(args.seed)  # same init on every rank; the sampler splits the data
    require_consistent(exp, "gpt", cli.list_entries(args), allow_missing=args.allow_missing)
    cfg = load_config(args)
    ds = GPTDataset(exp, cli.phone_mapper(args.version), cfg.data, min_items=args.min_epoch_items)
    model = build_gpt(cfg.to_dict()).to(ctx.device)
    batch_size = cli.pick_batch_size(args.batch_size, cfg.train.batch_size, len(ds.items), ctx)
    if args.batch_size == "auto":
        longest = sorted(range(len(ds)), key=lambda i: -ds.lengths[i])

        def probe(bs: int) -> None:  # forward + backward on the longest items, no update
            b = {k: v.to(ctx.device) for k, v in ds.collate([ds[i] for i in longest[:bs]]).items()}
            with amp.autocast():
                loss, _ = model.forward_train(*(b[k] for k in BATCH_KEYS))
            loss.backward()
            model.zero_grad(set_to_none=True)

        batch_size = find_batch_size(probe, batch_size, ctx.device)
    sampler = BucketBatchSampler(ds.lengths, batch_size, None, ctx.world_size, ctx.rank, seed=cfg.train.seed)
    # the loader's own generator: creating an epoch iterator must not draw from the global stream (resume)
    loader_gen = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(
        ds, batch_sampler=sampler, collate_fn=ds.collate, num_workers=args.num_workers, generator=loader_gen
    )
    opt = ScaledAdamLite(model.parameters(), lr=cfg.optimizer.lr)
    o = cfg.optimizer
    sched = WarmupCosine(opt, o.lr_init, o.lr, o.lr_end, o.warmup_steps, o.decay_steps)
    ckpts = CheckpointDir(exp.root / f"{paths.GPT_CKPT_DIR}_{args.version}", ("GPT",), keep=args.keep)
    if ctx.is_main:
        remove_partials(ckpts.folder)
    epoch, step, opt_steps, start_batch = 1, 0, 0, 0
    resumed = ckpts.load_latest() if not args.restart else None
    if resumed is not None:
        state = resumed[1]["GPT"]
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        amp.scaler.load_state_dict(state["scaler"])
        step, opt_steps = int(state["step"]), int(state["opt_steps"])
        epoch, start_batch = int(state["epoch"]), int(state["epoch_batches"])
        restore_rng(state.get("rng"), ctx.rank, args.seed, step)
        if start_batch >= len(sampler):
            epoch, start_batch = epoch + 1, 0
        log.info("resumed from step %d (epoch %d, batch %d)", step, epoch, start_batch)
    elif args.pretrained is not None:
        note = load_pretrained(model, args.pretrained)
        if progress:
            progress.write("note", message=note)
    wrapped: nn.Module = TrainForward(model, args.dpo)
    if ctx.distributed:
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        wrapped = DDP(wrapped, device_ids=ids, find_unused_parameters=True)
    total = cfg.train.epochs * len(sampler)
    if progress:
        progress.write("start", stage=STAGE, total=total, step=step, epoch=epoch, batch_size=batch_size)
    metrics = Metrics(progress, ckpts.folder if ctx.is_main else None, total)
    accumulate = max(1, cfg.train.accumulate_grad_batches)
    sampler_fn = None
    if ctx.is_main and args.sample_sovits is not None and not args.no_sample:
        from GPT_SoVITS.train.gpt_sample import GPTSampler

        sampler_fn = GPTSampler(args.sample_sovits, ctx.device)
    model.train()
    last: dict[str, float] = {}
    stop = False
    while epoch <= cfg.train.epochs and not stop:
        sampler.set_epoch(epoch, start_batch)
        n_batches = len(sampler)
        for i, batch in enumerate(loader, start=start_batch):
            b = {k: v.to(ctx.device) for k, v in batch.items()}
            with amp.autocast():
                loss, acc = wrapped(
                    b["phoneme_ids"],
                    b["phoneme_ids_len"],
                    b["semantic_ids"],
                    b["semantic_ids_len"],
                    b["bert_feature"],
                )
            amp.scaler.scale(loss / accumulate).backward()
            step += 1
            lr = sched.lr_at(opt_steps)
            if (i + 1) % accumulate == 0 or i + 1 == n_batches:
                sched.apply(opt_steps)
                amp.scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.gradient_clip)
                amp.scaler.step(opt)
                amp.scaler.update()
                opt.zero_grad(set_to_none=True)
                opt_steps += 1
            last = {"loss/total": float(loss.detach().float()), "top_3_acc": float(acc), "lr": lr}
            metrics.step(step, epoch, b["phoneme_ids"].shape[0] * ctx.world_size, last,
                         ctx.is_main and step % args.log_interval == 0)  # fmt: skip
            at_boundary = (i + 1) % accumulate == 0
            if (
                args.save_every_steps
                and step % args.save_every_steps == 0
                and at_boundary
                and i + 1 < n_batches
            ):
                _save(ckpts, ctx, model, opt, amp, epoch, step, opt_steps, i + 1, progress)
            if args.max_steps and step >= args.max_steps:
                stop = True
                break
        start_batch = 0
        if not stop and (epoch % args.save_every == 0 or epoch == cfg.train.epochs):
            _save(ckpts, ctx, model, opt, amp, epoch, step, opt_steps, n_batches, progress)
            if ctx.is_main:
                path = export(model, cfg, args, epoch)
                if progress:
                    progress.write("saved", path=str(path), epoch=epoch, step=step)
                if sampler_fn is not None:
                    wav_path = sampler_fn(model, ds, exp, metrics, epoch, step)
                    if progress:
                        progress.write("sample", path=str(wav_path))
        epoch += 1
    metrics.close()
    final = last.get("loss/total", float("nan"))
    return f"{STAGE}: {step} steps ({opt_steps} optimiser steps); last loss {final:.3f}"


def _save(ckpts, ctx, model, opt, amp, epoch, step, opt_steps, batches, progress) -> None:
    if ctx.is_main:
        state = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scaler": amp.scaler.state_dict(),
            "epoch": epoch,
            "step": step,
            "opt_steps": opt_steps,
            "epoch_batches": batches,
            "rng": rng_state(),
        }
        ckpts.save(step, {"GPT": state})
        if progress:
            progress.write("checkpoint", step=step, epoch=epoch, path=str(ckpts.path("GPT", step)))
    barrier(ctx)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m GPT_SoVITS.train.gpt", description=__doc__.split("\n")[0])
    cli.add_common_args(p, default_weights=paths.GPT_WEIGHTS_DIR)
    p.add_argument("--pretrained", type=Path, default=None, help="pretrained GPT weights (s1*.ckpt)")
    p.add_argument(
        "--config", type=Path, default=None, help="s1 YAML/JSON config (default: pretrained's or s1longer)"
    )
    p.add_argument(
        "--dpo", action="store_true", help="add the DPO loss on rejected (span-corrupted) sequences"
    )
    p.add_argument(
        "--sample-sovits", type=Path, default=None, help="SoVITS weights for a sample synthesis at each save"
    )
    p.add_argument("--accumulate", type=int, default=None, help="batches per optimiser step (official: 4)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_main(STAGE, args, run)


if __name__ == "__main__":
    sys.exit(main())
