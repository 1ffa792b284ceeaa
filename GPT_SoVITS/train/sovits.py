"""Train SoVITS (stage 2) on a formatted experiment; export official weights at each save.

``python -m GPT_SoVITS.train.sovits --exp logs/<exp> [--pretrained-g G.pth --pretrained-d D.pth] --epochs 8
--batch-size 4|auto --save-every 4``; several processes:
``torchrun --nproc-per-node N -m GPT_SoVITS.train.sovits ...``

Training checkpoints go to ``<exp>/logs_s2_<version>/G_<step>.pth`` + ``D_<step>.pth`` (official layout,
atomic, newest ``--keep`` kept) and a restart resumes from the newest complete pair. Each epoch save also
exports ``<weights-dir>/<exp>_e<E>_s<S>.pth`` (official format) and a resynthesised sample
``<exp>/samples/sovits_e<E>_s<S>.wav``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader

from GPT_SoVITS import paths
from GPT_SoVITS.config.sovits import SoVITSConfig
from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.data.sampler import BucketBatchSampler
from GPT_SoVITS.data.sovits_dataset import SOVITS_BOUNDARIES, SoVITSDataset, collate_sovits
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
    seed_everything,
)
from GPT_SoVITS.train.sovits_step import (
    SoVITSNets,
    all_finite,
    build_nets,
    load_pretrained,
    restore_state,
    set_epoch_lr,
    train_step,
    training_state,
)

log = logging.getLogger(__name__)
STAGE = "train.sovits"


def load_config(args: argparse.Namespace) -> SoVITSConfig:
    """--config JSON, else the pretrained G's config, else the official defaults; then the flags."""
    if args.config is not None:
        cfg = SoVITSConfig.from_dict(json.loads(args.config.read_text(encoding="utf-8")))
    elif args.pretrained_g is not None:
        from GPT_SoVITS.checkpoints import load_sovits

        cfg = SoVITSConfig.from_dict(load_sovits(args.pretrained_g).config)
    else:
        cfg = SoVITSConfig()
    cfg.model.version = args.version
    cfg.model.semantic_frame_rate = "25hz"
    cli.apply_common(cfg.train, args, lr_field="learning_rate")
    if args.text_low_lr_rate is not None:
        cfg.train.text_low_lr_rate = args.text_low_lr_rate
    cfg.extra.update(name=args.name, version=args.version, pretrained_s2G=str(args.pretrained_g or ""))
    return cfg


def export(nets: SoVITSNets, cfg: SoVITSConfig, args: argparse.Namespace, epoch: int, step: int) -> Path:
    from GPT_SoVITS.checkpoints import save_sovits

    path = args.weights_dir / paths.sovits_weight_name(args.name, epoch, step)
    save_sovits(path, nets.g_core.state_dict(), cfg.to_dict(), f"{epoch}epoch_{step}iteration", args.version)
    return path


@torch.no_grad()
def sample(
    nets: SoVITSNets, ds: SoVITSDataset, exp: Experiment, metrics: Metrics, epoch: int, step: int
) -> Path:
    """Resynthesise the first training clip (its own codes, phones and spectrogram as reference)."""
    from GPT_SoVITS.audio import save_wav

    g = nets.g_core
    was_training = g.training
    g.eval()
    device = next(g.parameters()).device
    item = min(ds.items, key=lambda it: it.name)
    ssl, spec, _ = ds.load(item.name)
    codes = g.extract_latent(ssl.to(device)).transpose(0, 1)  # (n_q, 1, T)
    text = torch.tensor([item.phone_ids], dtype=torch.long, device=device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)  # the same noise at every save, so samples differ only by the weights
        wav = g.decode(codes, text, spec[None].to(device), noise_scale=0.5)
    g.train(was_training)
    out = exp.root / "samples" / f"sovits_e{epoch}_s{step}.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_wav(out, wav[0, 0].float().cpu().clamp(-1, 1).numpy(), ds.data.sampling_rate)
    metrics.audio("sample/sovits", wav[0], step, ds.data.sampling_rate)
    return out


def run(args: argparse.Namespace, progress: ProgressLog | None) -> str:
    exp = Experiment(args.exp)
    ctx, amp = cli.setup_runtime(args)
    seed_everything(args.seed + ctx.rank)
    report = require_consistent(exp, "sovits", cli.list_entries(args), allow_missing=args.allow_missing)
    cfg = load_config(args)
    names = sorted((set(exp.read_text()) & exp.hubert_names() & exp.wav_names()) - set(report.dropped))
    to_ids = cli.phone_mapper(args.version)
    ds = SoVITSDataset(exp, names, to_ids, cfg.data, args.min_epoch_items)
    nets = build_nets(cfg, ctx.device)
    batch_size = cli.pick_batch_size(args.batch_size, cfg.train.batch_size, len(ds.items), ctx)
    if args.batch_size == "auto":
        longest = sorted(range(len(ds)), key=lambda i: -ds.lengths[i])

        def probe(bs: int) -> None:  # forward + backward on the longest clips, no update
            train_step(nets, collate_sovits([ds[i] for i in longest[:bs]]), cfg, amp, update=False)

        batch_size = find_batch_size(probe, batch_size, ctx.device)
    sampler = BucketBatchSampler(
        ds.lengths, batch_size, list(SOVITS_BOUNDARIES), ctx.world_size, ctx.rank, seed=cfg.train.seed
    )
    # the loader's own generator: creating an epoch iterator must not draw from the global stream (resume)
    loader_gen = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(
        ds,
        batch_sampler=sampler,
        collate_fn=collate_sovits,
        num_workers=args.num_workers,
        generator=loader_gen,
    )
    ckpts = CheckpointDir(exp.root / f"{paths.SOVITS_CKPT_DIR}_{args.version}", ("G", "D"), keep=args.keep)
    if ctx.is_main:
        remove_partials(ckpts.folder)
    epoch, step, start_batch = 1, 0, 0
    resumed = ckpts.load_latest() if not args.restart else None
    if resumed is not None:
        done_epoch, step, batches = restore_state(nets, amp, resumed[1])
        step = step if step >= 0 else done_epoch * len(sampler)  # official resume: (epoch - 1) * len(loader)
        restore_rng(resumed[1]["G"].get("rng"), ctx.rank, args.seed, step)
        epoch, start_batch = (done_epoch, batches) if 0 <= batches < len(sampler) else (done_epoch + 1, 0)
        log.info("resumed from step %d (epoch %d, batch %d)", step, epoch, start_batch)
    else:
        try:
            notes = load_pretrained(nets, args.pretrained_g, args.pretrained_d)
        except ValueError as e:
            raise cli.TrainError(str(e)) from e
        for note in notes:
            if progress:
                progress.write("note", message=note)
    if ctx.distributed:
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        nets.g = DDP(nets.g, device_ids=ids, find_unused_parameters=True)
        nets.d = DDP(nets.d, device_ids=ids, find_unused_parameters=True)
    total = cfg.train.epochs * len(sampler)
    if progress:
        progress.write("start", stage=STAGE, total=total, step=step, epoch=epoch, batch_size=batch_size)
    metrics = Metrics(
        progress, exp.root / f"{paths.SOVITS_CKPT_DIR}_{args.version}" if ctx.is_main else None, total
    )
    nets.g.train()
    nets.d.train()
    last_values: dict[str, float] = {}
    stop = False
    while epoch <= cfg.train.epochs and not stop:
        lr = set_epoch_lr(nets, epoch, cfg.train.lr_decay)
        sampler.set_epoch(epoch, start_batch)
        for i, batch in enumerate(loader, start=start_batch):
            values = train_step(nets, batch, cfg, amp)
            if not all_finite(values):
                log.warning("step %d: non-finite loss %s", step, values)
            step += 1
            last_values = values
            metrics.step(
                step,
                epoch,
                batch[0].shape[0] * ctx.world_size,
                {**values, "lr": lr},
                ctx.is_main and step % args.log_interval == 0,
            )
            if args.save_every_steps and step % args.save_every_steps == 0 and i + 1 < len(sampler):
                _save(nets, amp, ckpts, ctx, epoch, step, i + 1, lr, progress)
            if args.max_steps and step >= args.max_steps:
                stop = True
                break
        start_batch = 0
        if not stop and (epoch % args.save_every == 0 or epoch == cfg.train.epochs):
            _save(nets, amp, ckpts, ctx, epoch, step, len(sampler), lr, progress)
            if ctx.is_main:
                path = export(nets, cfg, args, epoch, step)
                if progress:
                    progress.write("saved", path=str(path), epoch=epoch, step=step)
                if not args.no_sample:
                    wav_path = sample(nets, ds, exp, metrics, epoch, step)
                    if progress:
                        progress.write("sample", path=str(wav_path))
        epoch += 1
    metrics.close()
    losses = ", ".join(
        f"{k.split('/')[-1]} {v:.3f}" for k, v in last_values.items() if k.startswith("loss/g")
    )
    return f"{STAGE}: {step} steps, {len(report.dropped)} dropped item(s); last {losses}"


def _save(
    nets, amp, ckpts: CheckpointDir, ctx, epoch: int, step: int, batches: int, lr: float, progress
) -> None:
    if ctx.is_main:
        ckpts.save(step, training_state(nets, amp, epoch, step, batches, lr))
        if progress:
            progress.write("checkpoint", step=step, epoch=epoch, path=str(ckpts.path("G", step)))
    barrier(ctx)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m GPT_SoVITS.train.sovits", description=__doc__.split("\n")[0])
    cli.add_common_args(p, default_weights=paths.SOVITS_WEIGHTS_DIR)
    p.add_argument("--pretrained-g", type=Path, default=None, help="pretrained generator weights (s2G*.pth)")
    p.add_argument(
        "--pretrained-d", type=Path, default=None, help="pretrained discriminator weights (s2D*.pth)"
    )
    p.add_argument(
        "--config", type=Path, default=None, help="s2 JSON config (default: pretrained G's, or s2.json)"
    )
    p.add_argument("--text-low-lr-rate", type=float, default=None, help="lr factor of the text encoder (0.4)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_main(STAGE, args, run)


if __name__ == "__main__":
    sys.exit(main())
