"""v2Pro/v2ProPlus training input: 7-sv_cn embeddings reach the dataset, the batch and the generator."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from GPT_SoVITS.config.sovits import SoVITSConfig
from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.data.sovits_dataset import SoVITSDataset, collate_sovits
from GPT_SoVITS.features.sv import SpeakerEncoder
from GPT_SoVITS.models.sovits import MultiPeriodDiscriminator, build_sovits
from GPT_SoVITS.prepare.sv import embed_clip, sv_path
from GPT_SoVITS.train.cli import phone_mapper
from GPT_SoVITS.train.common import Amp, seed_everything
from GPT_SoVITS.train.sovits_step import SoVITSNets, train_step
from tests.train.synth import tiny_sovits_config


def test_sv_embeddings_feed_a_pro_training_step(experiment: Experiment, next_golden_dir: Path) -> None:
    meta = json.loads((next_golden_dir / "sv_embedding.json").read_text())
    encoder = SpeakerEncoder(next_golden_dir / "models" / meta["model_file"])
    names = [f"clip{i}.wav" for i in range(4)]
    sv_path(experiment, names[0]).parent.mkdir(parents=True)
    for name in names[:3]:  # clip3 has no embedding: left out, with the reason
        torch.save(embed_clip(experiment.wav_path(name), encoder), sv_path(experiment, name))
    cfg = SoVITSConfig.from_dict(tiny_sovits_config())
    cfg.model.version = "v2Pro"
    ds = SoVITSDataset(experiment, names, phone_mapper("v2Pro"), cfg.data, min_items=0, with_sv=True)
    assert len(ds) == 3 and "prepare.sv" in ds.skipped["clip3.wav"]
    batch = collate_sovits([ds[0], ds[1]])
    assert len(batch) == 9 and batch[-1].shape == (2, encoder.embedding_dim)
    # the embeddings follow the batch's longest-first order
    by_len = sorted((ds[0], ds[1]), key=lambda item: -item[1].shape[1])
    assert torch.equal(batch[-1], torch.stack([item[4] for item in by_len]))

    seed_everything(0)
    g = build_sovits(cfg.to_dict(), with_enc_q=True, sv_input_dim=encoder.embedding_dim)
    d = MultiPeriodDiscriminator()
    nets = SoVITSNets(g, d, torch.optim.AdamW(g.parameters(), 1e-3), torch.optim.AdamW(d.parameters(), 1e-3))
    before = g.sv_emb.weight.detach().clone()
    values = train_step(nets, batch, cfg, Amp(torch.device("cpu"), torch.float32))
    assert all(math.isfinite(v) for v in values.values()), values
    assert not torch.equal(before, g.sv_emb.weight)  # the SV branch is trained
