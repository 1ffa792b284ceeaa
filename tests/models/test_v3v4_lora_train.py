"""LoRA fine-tuning of a v3/v4 model: training steps move only the trainable parts, the export is the
official LoRA file (header 04, peft key names) and loads back merged onto its base."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from GPT_SoVITS.checkpoints import load_sovits, save_sovits
from GPT_SoVITS.models.cfm import DiTConfig
from GPT_SoVITS.models.sovits.synthesizer_v3 import SynthesizerTrnV3, V3Sizes
from GPT_SoVITS.models.v3v4.load import load_v3v4_sovits
from GPT_SoVITS.models.v3v4.lora import add_lora, official_lora_state_dict

MODEL = {"inter_channels": 192, "hidden_channels": 192, "filter_channels": 32, "n_heads": 2, "n_layers": 2,
         "kernel_size": 3, "p_dropout": 0.0, "gin_channels": 512, "version": "v4"}  # fmt: skip
CONFIG = {"data": {"sampling_rate": 32000, "filter_length": 2048, "hop_length": 640, "win_length": 2048},
          "model": MODEL}  # fmt: skip
OFFICIAL_KEY = re.compile(
    r"^(ref_enc|bridge|wns1|linear_mel)\.|^quantizer\.vq\.layers\.0\._codebook\.|"
    r"^cfm\.base_model\.model\.estimator\.(rotary_embed\.inv_freq$|transformer_blocks\.\d+\.attn\."
    r"(to_q|to_k|to_v|to_out\.0)\.lora_[AB]\.default\.weight$)"
)


def tiny_model() -> SynthesizerTrnV3:
    torch.manual_seed(0)
    sizes = V3Sizes(dit=DiTConfig(dim=64, depth=2, heads=1, text_dim=32, conv_layers=1), wns1_channels=32,
                    wns1_kernel=3, wns1_layers=1)  # fmt: skip
    m = MODEL
    return SynthesizerTrnV3(m["inter_channels"], m["hidden_channels"], m["filter_channels"], m["n_heads"],
                            m["n_layers"], m["kernel_size"], m["p_dropout"], m["gin_channels"], "v4",
                            sizes=sizes)  # fmt: skip


def batch() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    frames = 40  # 50 Hz spectrogram frames; v4 mel frames = 2 x
    ssl = torch.randn(2, 768, frames, generator=g)
    spec = torch.rand(2, 1025, frames, generator=g) * 4
    mel = torch.rand(2, 100, 2 * frames, generator=g) * 2 - 1
    text = torch.randint(0, 732, (2, 12), generator=g)
    return ssl, spec, mel, torch.tensor([40, 36]), text, torch.tensor([12, 9]), torch.tensor([80, 72])


def test_lora_training_steps_and_official_export(tmp_path: Path) -> None:
    model = tiny_model()
    for name, buf in model.named_buffers():
        if name.endswith("inited"):
            buf.fill_(1.0)  # a trained codebook
    base_path = tmp_path / "s2Gv4.pth"
    save_sovits(base_path, model.state_dict(), CONFIG, "base", version="v4")
    base = {k: v.clone() for k, v in model.state_dict().items()}

    trainable = add_lora(model, rank=4)
    assert trainable and all(
        ".lora_" in n or n.startswith(("ref_enc.", "bridge.", "wns1.", "linear_mel.")) for n in trainable
    )
    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    torch.manual_seed(2)
    for _ in range(3):
        loss = model(*batch())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert all(torch.isfinite(torch.tensor(losses)))
    after = model.state_dict()
    q = "cfm.estimator.transformer_blocks.0.attn.to_q"
    assert torch.equal(after[q + ".base_layer.weight"], base[q + ".weight"])  # the DiT base is frozen
    assert torch.equal(after["enc_p.proj.weight"], base["enc_p.proj.weight"])  # the content path too
    assert after[q + ".lora_B.weight"].abs().max() > 0 and not torch.equal(
        after["bridge.0.weight"], base["bridge.0.weight"]
    )

    lora_sd = official_lora_state_dict(model)
    assert all(OFFICIAL_KEY.match(k) for k in lora_sd), [k for k in lora_sd if not OFFICIAL_KEY.match(k)]
    lora_path = tmp_path / "voice_e1_s3_l4.pth"
    save_sovits(lora_path, lora_sd, CONFIG, "1epoch_3iteration", version="v4", lora_rank=4)
    assert lora_path.read_bytes()[:2] == b"04"
    ckpt = load_sovits(lora_path)
    assert ckpt.is_lora and ckpt.lora_rank == 4

    merged = load_v3v4_sovits(ckpt, "v4", True, base_path=base_path).state_dict()
    a = after[q + ".lora_A.weight"].half().float()
    b = after[q + ".lora_B.weight"].half().float()
    assert torch.equal(merged[q + ".weight"], base[q + ".weight"].half().float() + b @ a)
    assert torch.equal(merged["bridge.0.weight"], after["bridge.0.weight"].half().float())
