"""The opt-in reduced-precision per-token step (fastpath.PRECISIONS): close to fp32, never the default."""

from __future__ import annotations

import pytest
import torch

from GPT_SoVITS.models.gpt.decode import infer_panel, prefill, step
from tests.models.test_gpt_decode import EOS, inputs, tiny_model


def _step_logits(model, precision: str) -> torch.Tensor:
    """Logits of 6 teacher-forced steps after a prefill: (6, V)."""
    x, bert, prompt = inputs(30)
    bert = bert.to(model.bert_proj.weight.dtype)
    forced = torch.randint(0, EOS, (1, 6), generator=torch.Generator().manual_seed(31))
    w = model.h.step_weights(precision)
    with torch.inference_mode():
        cache = model.new_cache(1, x.shape[1] + prompt.shape[1] + 6)
        prefill(model, model.embed_text(x, bert), model.embed_audio(prompt), cache)
        out = [step(model, forced[:, i : i + 1], prompt.shape[1] + i, cache, weights=w) for i in range(6)]
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
    y_default, _ = infer_panel(model, x, None, prompt, bert, top_k=1, early_stop_num=12)
    y_fp32, _ = infer_panel(model, x, None, prompt, bert, top_k=1, early_stop_num=12, precision="fp32")
    assert torch.equal(y_default, y_fp32)
    with pytest.raises(ValueError, match="fp16"):
        model.h.step_weights("int3")


def test_scripted_reduced_precision_step_equals_eager() -> None:
    from GPT_SoVITS.models.gpt.fastpath import decode_layers, decode_layers_eager

    model = tiny_model(35)
    w = model.h.step_weights("bf16")
    assert w.lowp and w.tensors[0][0].dtype == torch.bfloat16
    outs = []
    for fn in (decode_layers(), decode_layers_eager):
        cache = model.new_cache(1, 10)
        with torch.inference_mode():
            model.h(torch.randn(1, 6, 32, generator=torch.Generator().manual_seed(36)), None, cache)
            x = torch.randn(1, 32, generator=torch.Generator().manual_seed(37))
            outs.append(fn(x, cache.k, cache.v, 6, w.heads, w.tensors, w.eps, None, True))
    assert torch.equal(outs[0], outs[1])


def test_step_thread_setting_is_restored_and_changes_no_number(monkeypatch: pytest.MonkeyPatch) -> None:
    from GPT_SoVITS.models.gpt import decode

    model = tiny_model(38)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        one = _step_logits(model, "fp32")  # decode.STEP_THREADS = 1 by default
        assert torch.get_num_threads() == 2
        monkeypatch.setattr(decode, "STEP_THREADS", None)
        assert torch.equal(_step_logits(model, "fp32"), one)
    finally:
        torch.set_num_threads(before)


def test_half_model_steps_with_the_linear_layout() -> None:
    model = tiny_model(39)
    ref = _step_logits(model, "fp32")
    half = model.to(torch.bfloat16)
    w = half.h.step_weights()
    assert w.lowp and w.tensors[0][4].shape == half.h.layers[0].linear1.weight.shape
    low = _step_logits(half, "fp32")
    assert (low - ref).abs().max().item() < 0.1 * ref.abs().max().item()
