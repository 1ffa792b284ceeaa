"""GPT model: state-dict layout against the official inventories, loading, training forward."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from GPT_SoVITS.checkpoints import CheckpointError, save_gpt
from GPT_SoVITS.models.gpt import GPTDims, build_gpt, load_gpt_model
from GPT_SoVITS.models.gpt.backends import NumpyBackend
from GPT_SoVITS.models.gpt.decode import prefill
from GPT_SoVITS.models.gpt.model import attention_mask
from GPT_SoVITS.models.gpt.training import make_rejected, teacher_forced_logits, train_loss, train_loss_dpo

TINY = {
    "data": {"max_sec": 54},
    "model": {
        "vocab_size": 65, "phoneme_vocab_size": 20, "embedding_dim": 32, "hidden_dim": 32, "head": 2,
        "linear_units": 999, "n_layer": 2, "dropout": 0, "EOS": 64,
    },
}  # fmt: skip


def _exported(model: torch.nn.Module) -> dict[str, list]:
    """Keys, shapes and dtypes as the official exporter writes them: ``model.`` prefix, fp16."""
    return {
        f"model.{k}": [list(v.shape), str(v.half().dtype).removeprefix("torch.")]
        for k, v in model.state_dict().items()
    }


@pytest.mark.parametrize("version", ["v1", "v2", "v2Pro", "v2ProPlus", "v3", "v4"])
def test_state_dict_equals_inventory(inventory_dir: Path, version: str) -> None:
    inv = json.loads((inventory_dir / f"{version}_gpt.json").read_text())
    with torch.device("meta"):  # full size without allocating 300 MB per model
        model = build_gpt(inv["config"])
    ours = _exported(model)
    assert list(ours) == list(inv["state_dict"]), "keys or their order differ"
    assert ours == {k: [list(s), d] for k, (s, d) in inv["state_dict"].items()}
    assert model.dims.ffn_mult * model.dims.hidden_dim == model.h.layers[0].linear1.out_features


def test_linear_units_is_ignored_and_bad_config_is_named() -> None:
    model = build_gpt(TINY)
    assert model.h.layers[0].linear1.out_features == 4 * 32  # not linear_units (999)
    broken = {"model": {k: v for k, v in TINY["model"].items() if k != "n_layer"}}
    with pytest.raises(KeyError, match="n_layer"):
        GPTDims.from_config(broken)
    with pytest.raises(ValueError, match="EOS"):
        GPTDims.from_config({"model": {**TINY["model"], "EOS": 3}})


def test_save_load_roundtrip_and_strict_mismatch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_gpt(TINY).eval()
    path = tmp_path / "tiny-e1.ckpt"
    save_gpt(path, model.state_dict(), TINY, "GPT-e1")
    loaded = load_gpt_model(path)
    x, bert = torch.randint(0, 20, (1, 7)), torch.randn(1, 1024, 7)
    with torch.inference_mode():
        for param in model.parameters():  # the file holds fp16-rounded weights (pe is not stored)
            param.copy_(param.half().float())
        a = prefill(model, model.embed_text(x, bert), None, model.new_cache(1, 7), NumpyBackend())
        b = prefill(loaded, loaded.embed_text(x, bert), None, loaded.new_cache(1, 7), NumpyBackend())
    assert torch.equal(a, b)
    wrong = {"data": TINY["data"], "model": {**TINY["model"], "n_layer": 3}}
    bad = tmp_path / "wrong-e1.ckpt"
    save_gpt(bad, model.state_dict(), wrong, "GPT-e1")
    with pytest.raises(CheckpointError, match=r"wrong-e1\.ckpt"):
        load_gpt_model(bad)


def _batch(g: torch.Generator) -> tuple[torch.Tensor, ...]:
    x_lens, y_lens = torch.tensor([9, 6]), torch.tensor([12, 8])
    x = torch.randint(0, 20, (2, 9), generator=g)
    y = torch.randint(0, 64, (2, 12), generator=g)
    bert = torch.randn(2, 1024, 9, generator=g)
    return x, x_lens, y, y_lens, bert


def test_teacher_forcing_equals_cached_prefill() -> None:
    torch.manual_seed(1)
    model = build_gpt(TINY).eval()
    g = torch.Generator().manual_seed(2)
    x, _, y, _, bert = _batch(g)
    x, y, bert = x[:1], y[:1], bert[:1]
    with torch.inference_mode():
        logits, targets = teacher_forced_logits(model, x, torch.tensor([9]), y, torch.tensor([12]), bert)
        cache = model.new_cache(1, 21)
        xy = torch.cat([model.embed_text(x, bert), model.embed_audio(y)], 1)
        cached = model.logits(model.h(xy, attention_mask(9, 12)[None, None], cache))
    assert torch.allclose(logits, cached, atol=1e-5)
    assert targets[0, -1] == 64 and torch.equal(targets[0, :-1], y[0, 1:])  # shifted codes, then EOS


def test_padding_gets_eos_targets_and_does_not_leak() -> None:
    torch.manual_seed(3)
    model = build_gpt(TINY).eval()
    x, x_lens, y, y_lens, bert = _batch(torch.Generator().manual_seed(4))
    with torch.inference_mode():
        logits, targets = teacher_forced_logits(model, x, x_lens, y, y_lens, bert)
        alone, _ = teacher_forced_logits(model, x[1:, :6], x_lens[1:], y[1:, :8], y_lens[1:], bert[1:, :, :6])
    assert (targets[1, 7:] == 64).all() and (targets[1, :7] == y[1, 1:8]).all()
    # item 1 padded in the batch gives the same logits on its valid audio rows as alone
    assert torch.allclose(logits[1, 9 : 9 + 8], alone[0, 6 : 6 + 8], atol=1e-5)


def test_train_loss_decreases() -> None:
    torch.manual_seed(5)
    model = build_gpt(TINY).train()
    batch = _batch(torch.Generator().manual_seed(6))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        loss, acc = train_loss(model, *batch)
        assert torch.isfinite(loss) and 0.0 <= acc <= 1.0
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


def test_dpo_loss_and_rejected_samples() -> None:
    torch.manual_seed(7)
    model = build_gpt(TINY).train()
    x, x_lens, y, y_lens, bert = _batch(torch.Generator().manual_seed(8))
    g = torch.Generator().manual_seed(9)
    rejected, lens = make_rejected(y, y_lens, g)
    assert (lens >= y_lens).all()  # a repeated span only lengthens
    shorter, short_lens = make_rejected(y, y_lens, torch.Generator().manual_seed(9), delete_prob=1.0)
    assert (short_lens <= y_lens).all()
    assert rejected.shape == (2, int(lens.max())) and shorter.shape[0] == 2
    loss, acc = train_loss_dpo(model, x, x_lens, y, y_lens, bert, torch.Generator().manual_seed(10))
    ce, _ = train_loss(model.eval(), x, x_lens, y, y_lens, bert)
    assert torch.isfinite(loss) and 0.0 <= acc <= 1.0
    loss.backward()
    assert all(p.grad is not None for p in model.h.parameters())
    assert ce.item() > 0
