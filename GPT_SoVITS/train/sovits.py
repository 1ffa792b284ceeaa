"""Train SoVITS (stage 2) on a formatted experiment; export official weights at each save.

``python -m GPT_SoVITS.train.sovits --exp logs/<exp> [--pretrained-g G.pth --pretrained-d D.pth] --epochs 8
--batch-size 4|auto --save-every 4``; several processes:
``torchrun --nproc-per-node N -m GPT_SoVITS.train.sovits ...``

Training checkpoints go to ``<exp>/logs_s2_<version>/G_<step>.pth`` + ``D_<step>.pth`` (official layout,
atomic, newest ``--keep`` kept) and a restart resumes from the newest complete pair. Each epoch save also
exports ``<weights-dir>/<exp>_e<E>_s<S>.pth`` (official format) and a resynthesised sample
``<exp>/samples/sovits_e<E>_s<S>.wav``.

``--version v2Pro|v2ProPlus`` also reads each clip's SV embedding from ``<exp>/7-sv_cn/`` (prepare.sv); the
width of ``sv_emb`` comes from the pretrained generator, and the export carries header 05/06.
``--version v3|v4 [--lora-rank 16|32|64|128]`` fine-tunes LoRA on the CFM of a base model instead
(``GPT_SoVITS.train.lora``).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from GPT_SoVITS import paths
from GPT_SoVITS.config.sovits import SoVITSConfig
from GPT_SoVITS.data.experiment import Experiment, ExperimentError
from GPT_SoVITS.data.sovits_dataset import SOVITS_BOUNDARIES, SoVITSDataset, collate_sovits
from GPT_SoVITS.data.validate import require_consistent
from GPT_SoVITS.models.v3v4.lora import LORA_RANKS
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.stage import StageError, require_file
from GPT_SoVITS.train import cli
from GPT_SoVITS.train.common import Metrics, seed_everything, wrap_ddp
from GPT_SoVITS.train.loop import TrainingRun
from GPT_SoVITS.train.lora import DEFAULT_LORA_RANK, LoRATraining
from GPT_SoVITS.train.sovits_step import (
    SoVITSNets,
    all_finite,
    build_nets,
    load_pretrained,
    pretrained_sv_width,
    restore_state,
    set_epoch_lr,
    train_step,
    training_state,
)
from GPT_SoVITS.versions import spec

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
    sv = None
    if ds.with_sv:  # v2Pro/v2ProPlus: the clip's own SV embedding [1, D]
        sv = [torch.load(ds.sv_path(item.name), map_location="cpu", weights_only=True).reshape(1, -1)]
        sv = [s.float().to(device) for s in sv]
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)  # the same noise at every save, so samples differ only by the weights
        wav = g.decode(codes, text, [spec[None].to(device)], noise_scale=0.5, sv_emb=sv)
    g.train(was_training)
    out = exp.root / "samples" / f"sovits_e{epoch}_s{step}.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_wav(out, wav[0, 0].float().cpu().clamp(-1, 1).numpy(), ds.data.sampling_rate)
    metrics.audio("sample/sovits", wav[0], step, ds.data.sampling_rate)
    return out


def check_sv_embeddings(ds: SoVITSDataset, width: int | None, pretrained: Path | None, version: str) -> None:
    """The 7-sv_cn embeddings must have the width the generator's ``sv_emb`` takes (an SV model of another
    size made them otherwise): an ExperimentError naming both files."""
    first = ds.sv_path(ds.items[0].name)
    size = torch.load(first, map_location="cpu", weights_only=True).numel()
    expected = width if width is not None else spec(version).sv_input_dim
    if size != expected:
        source = f"{pretrained} takes" if pretrained is not None else "the model takes"
        raise ExperimentError(
            f"{first}: {size}-d SV embedding but {source} {expected}-d ones; rerun prepare.sv with the SV "
            "model of this pretrained generator"
        )


class SoVITSTraining(TrainingRun):
    """The SoVITS generator/discriminator pair plugged into the shared training loop."""

    stage, kind, ckpt_keys = STAGE, "sovits", ("G", "D")

    def __init__(self, args: argparse.Namespace, progress: ProgressLog | None) -> None:
        for path, flag in ((args.pretrained_g, "--pretrained-g"), (args.pretrained_d, "--pretrained-d"),
                           (args.config, "--config")):  # fmt: skip
            require_file(path, flag)
        super().__init__(args, progress)
        exp = self.exp
        seed_everything(args.seed + self.ctx.rank)
        self.report = require_consistent(
            exp, "sovits", cli.list_entries(args), allow_missing=args.allow_missing
        )
        self.cfg = cfg = load_config(args)
        names = sorted(
            (set(exp.read_text()) & exp.hubert_names() & exp.wav_names()) - set(self.report.dropped)
        )
        with_sv = spec(args.version).has_sv_embedding  # v2Pro/v2ProPlus: 7-sv_cn embeddings (prepare.sv)
        if with_sv and not any((exp.root / paths.SV_DIR / f"{n}.pt").is_file() for n in names):
            raise ExperimentError(
                f"{exp.root / paths.SV_DIR}: no SV embeddings, which {args.version} trains on; run prepare.sv"
            )
        ds = SoVITSDataset(
            exp, names, cli.phone_mapper(args.version), cfg.data, args.min_epoch_items, with_sv=with_sv
        )
        sv_width = pretrained_sv_width(args.pretrained_g) if with_sv else None
        if with_sv:
            check_sv_embeddings(ds, sv_width, args.pretrained_g, args.version)
        self.nets = build_nets(cfg, self.ctx.device, sv_input_dim=sv_width)
        self.lr = cfg.train.learning_rate
        self.setup_data(ds, list(SOVITS_BOUNDARIES), collate_sovits, cfg.train.batch_size, cfg.train.seed)

    def probe(self, indices) -> None:
        batch = collate_sovits([self.ds[i] for i in indices])
        train_step(self.nets, batch, self.cfg, self.amp, update=False)

    def init_weights(self) -> list[str]:
        return load_pretrained(self.nets, self.args.pretrained_g, self.args.pretrained_d)

    def load_state(self, states) -> tuple[int, int, int]:
        return restore_state(self.nets, self.amp, states)

    def state(self, batches: int) -> dict:
        return training_state(self.nets, self.amp, self.epoch, self.step, batches, self.lr)

    def start(self) -> None:
        nets, ctx = self.nets, self.ctx
        if ctx.distributed:
            nets.g, nets.d = wrap_ddp(nets.g, ctx), wrap_ddp(nets.d, ctx)
        nets.g.train()
        nets.d.train()

    def begin_epoch(self) -> None:
        self.lr = set_epoch_lr(self.nets, self.epoch, self.cfg.train.lr_decay)

    def train_batch(self, index: int, batch) -> tuple[dict[str, float], int]:
        values = train_step(self.nets, batch, self.cfg, self.amp)
        if not all_finite(values):
            log.warning("step %d: non-finite loss %s", self.step, values)
        return {**values, "lr": self.lr}, batch[0].shape[0]

    def export(self) -> Path:
        return export(self.nets, self.cfg, self.args, self.epoch, self.step)

    def sample(self, metrics: Metrics) -> Path | None:
        if self.args.no_sample:
            return None
        return sample(self.nets, self.ds, self.exp, metrics, self.epoch, self.step)

    def summary(self) -> str:
        losses = ", ".join(
            f"{k.split('/')[-1]} {v:.3f}" for k, v in self.last.items() if k.startswith("loss/g")
        )
        return f"{STAGE}: {self.step} steps, {len(self.report.dropped)} dropped item(s); last {losses}"


def build_parser() -> argparse.ArgumentParser:
    p = cli.train_parser("GPT_SoVITS.train.sovits", __doc__, default_weights=paths.SOVITS_WEIGHTS_DIR)
    p.add_argument("--pretrained-g", type=Path, default=None, help="pretrained generator weights (s2G*.pth)")
    p.add_argument(
        "--pretrained-d", type=Path, default=None, help="pretrained discriminator weights (s2D*.pth)"
    )
    p.add_argument(
        "--config", type=Path, default=None, help="s2 JSON config (default: pretrained G's, or s2.json)"
    )
    p.add_argument("--text-low-lr-rate", type=float, default=None, help="lr factor of the text encoder (0.4)")
    p.add_argument(
        "--lora-rank",
        type=int,
        default=None,
        choices=LORA_RANKS,
        help=f"v3/v4 only: LoRA rank on the CFM's DiT attention (default {DEFAULT_LORA_RANK}; the base is "
        "--pretrained-g)",
    )
    return p


def training(args: argparse.Namespace, progress: ProgressLog | None) -> TrainingRun:
    """v3/v4 fine-tune LoRA on their CFM (train.lora); the other versions train the whole SoVITS."""
    if spec(args.version).uses_cfm:
        args.lora_rank = args.lora_rank or DEFAULT_LORA_RANK
        return LoRATraining(args, progress)
    if args.lora_rank is not None:
        raise StageError(
            f"--lora-rank is for v3/v4 (LoRA on the CFM); {args.version} trains the whole SoVITS",
            field="--lora-rank",
        )
    return SoVITSTraining(args, progress)


def main(argv: list[str] | None = None) -> int:
    return cli.train_main(STAGE, build_parser(), training, argv)


if __name__ == "__main__":
    raise SystemExit(main())
