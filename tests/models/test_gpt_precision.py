"""The opt-in reduced-precision per-token step (fastpath.PRECISIONS): close to fp32, never the default."""

from __future__ import annotations

import pytest
import torch

from GPT_SoVITS.models.gpt.backends import TorchBackend, choose_backend
from GPT_SoVITS.models.gpt.decode import DecodeLimits, infer_panel, prefill
from GPT_SoVITS.models.gpt.fastpath import decode_layers, decode_layers_eager, step_weights
from tests.models.test_gpt_decode import EOS, GREEDY, inputs, tiny_model


def _step_logits(model, precision: str) -> torch.Tensor:
    """Logits of 6 teacher-forced steps after a prefill, with the backend the engine would choose: (6, V)."""
    x, bert, prompt = inputs(30)
    bert = bert.to(model.bert_proj.weight.dtype)
    forced = torch.randint(0, EOS, (1, 6), generator=torch.Generator().manual_seed(31))
    backend = choose_backend("auto", torch.device("cpu"), model.bert_proj.weight.dtype, precision)
    with torch.inference_mode():
        cache = model.new_cache(1, x.shape[1] + prompt.shape[1] + 6)
        prefill(model, model.embed_text(x, bert), model.embed_audio(prompt), cache, backend)
        out = [backend.step(model, forced[:, i : i + 1], prompt.shape[1] + i, cache) for i in range(6)]
    return torch.cat(out)


@pytest.mark.parametrize(("precision", "rel_tol"), [("bf16", 0.05), ("fp16", 0.005)])
def test_reduced_precision_step_is_close_to_fp32(precision: str, rel_tol: float) -> None:
    model = tiny_model(32)
    ref = _step_logits(model, "fp32")
    low = _step_logits(model, precision)
    err = (low - ref).abs().max().item()
    assert 0 < err < rel_tol * ref.abs().max().item()  # really rounded, but only by that dtype's epsilon
    assert low.dtype == torch.float32


def test_precision_is_opt_in_and_checked() -> None:
    model = tiny_model(33)
    x, bert, prompt = inputs(34)
    limits = DecodeLimits(early_stop_num=12)
    y_default, _ = infer_panel(model, x, prompt, bert, GREEDY, limits)
    y_fp32, _ = infer_panel(model, x, prompt, bert, GREEDY, limits, TorchBackend("fp32"))
    assert torch.equal(y_default, y_fp32)
    with pytest.raises(ValueError, match="fp16"):
        step_weights(model.h, "int3")
    with pytest.raises(ValueError, match="fp16"):
        TorchBackend("int3")


def test_scripted_reduced_precision_step_equals_eager() -> None:
    model = tiny_model(35)
    w = step_weights(model.h, "bf16")
    assert w.lowp and w.tensors[0][0].dtype == torch.bfloat16
    outs = []
    for fn in (decode_layers(), decode_layers_eager):
        cache = model.new_cache(1, 10)
        with torch.inference_mode():
            model.h(torch.randn(1, 6, 32, generator=torch.Generator().manual_seed(36)), None, cache)
            x = torch.randn(1, 32, generator=torch.Generator().manual_seed(37))
            outs.append(fn(x, cache.k, cache.v, 6, w.heads, w.tensors, w.eps, None, True))
    assert torch.equal(outs[0], outs[1])


def test_half_model_steps_with_the_linear_layout() -> None:
    model = tiny_model(39)
    ref = _step_logits(model, "fp32")
    half = model.to(torch.bfloat16)
    w = step_weights(half.h)
    assert w.lowp and w.tensors[0][4].shape == half.h.layers[0].linear1.weight.shape
    low = _step_logits(half, "fp32")
    assert (low - ref).abs().max().item() < 0.1 * ref.abs().max().item()
