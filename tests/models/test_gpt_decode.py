"""GPT decoding on tiny random models: cache vs recomputation, stop rules, batching, seeded sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from GPT_SoVITS.models.gpt import Text2SemanticDecoder, build_gpt
from GPT_SoVITS.models.gpt.decode import (
    MIN_STEPS,
    infer_batch,
    infer_legacy,
    infer_panel,
    iter_tokens,
    prefill,
    step,
)
from GPT_SoVITS.models.gpt.training import attention_mask

EOS = 64
TINY = {
    "model": {
        "vocab_size": EOS + 1, "phoneme_vocab_size": 20, "embedding_dim": 32, "hidden_dim": 32, "head": 2,
        "n_layer": 2, "dropout": 0, "EOS": EOS,
    }
}  # fmt: skip


def tiny_model(seed: int, eos_logit: str = "never") -> Text2SemanticDecoder:
    """eos_logit: "never" zeroes the EOS row (a logit of 0 never wins against 64 random ones);
    "always" makes EOS the best token at every position."""
    torch.manual_seed(seed)
    model = build_gpt(TINY).eval()
    with torch.no_grad():
        w = model.ar_predict_layer.weight
        w.mul_(4.0)  # sharper logits: greedy ties are impossible
        w[EOS] = 0.0 if eos_logit == "never" else 100.0 * w[: EOS - 1].abs().max()
    with torch.no_grad():  # make "always" independent of the hidden state's sign: LayerNorm bias -> +1
        if eos_logit == "always":
            last = model.h.layers[-1].norm2
            last.weight.zero_()
            last.bias.fill_(1.0)
            model.ar_predict_layer.weight[:EOS] = -model.ar_predict_layer.weight[:EOS].abs()
    return model


def inputs(seed: int, n: int = 9, p: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 20, (1, n), generator=g)
    return x, torch.randn(1, 1024, n, generator=g), torch.randint(0, EOS, (1, p), generator=g)


def test_step_logits_equal_full_recomputation() -> None:
    model = tiny_model(0)
    x, bert, prompt = inputs(1)
    y = torch.cat([prompt, torch.randint(0, EOS, (1, 6))], 1)
    with torch.inference_mode():
        cache = model.new_cache(1, 9 + 11)
        logits = [prefill(model, model.embed_text(x, bert), model.embed_audio(prompt), cache)]
        for i in range(5, 10):
            logits.append(step(model, y[:, i : i + 1], i, cache))
        xy = torch.cat([model.embed_text(x, bert), model.embed_audio(y[:, :10])], 1)
        full = model.logits(model.h(xy, attention_mask(9, 10)[None, None]))[0, 9 + 4 :]
    assert torch.allclose(torch.cat(logits), full, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_kv_cache_equals_no_cache(seed: int) -> None:
    model = tiny_model(seed)
    x, bert, prompt = inputs(seed + 10)
    y_kv, idx = infer_panel(model, x, None, prompt, bert, top_k=1, early_stop_num=30, repetition_penalty=1.0)
    y_full = infer_legacy(model, x, None, prompt, bert, top_k=1, early_stop_num=30)
    assert y_kv.shape == (1, 5 + 31) and idx == 30  # early stop: 31 tokens, idx one less
    assert torch.equal(y_kv, y_full)
    streamed = list(
        iter_tokens(model, x, None, prompt, bert, top_k=1, early_stop_num=30, repetition_penalty=1.0)
    )
    assert streamed == y_kv[0, 5:].tolist()


def test_eos_is_blocked_for_the_first_steps_then_stops() -> None:
    model = tiny_model(3, eos_logit="always")
    x, bert, prompt = inputs(4)
    y, idx = infer_panel(model, x, None, prompt, bert, top_k=1)
    assert idx == MIN_STEPS and y.shape[1] == 5 + MIN_STEPS  # EOS at step 11 is removed
    assert EOS not in y[0].tolist()
    y_free, idx_free = infer_panel(model, x, None, None, bert, top_k=1)
    assert idx_free == 0 and y_free.shape[1] == MIN_STEPS  # reference-free: idx 0, no prompt
    legacy = infer_legacy(model, x, None, prompt, bert, top_k=1)  # no minimum length in the old path
    assert legacy.shape[1] == 5 + 1 and legacy[0, -1] == 0  # "bad zero prediction"


def test_repetition_penalty_changes_greedy_choices() -> None:
    model = tiny_model(5)
    x, bert, prompt = inputs(6)
    plain, _ = infer_panel(model, x, None, prompt, bert, top_k=1, early_stop_num=40, repetition_penalty=1.0)
    strong, _ = infer_panel(model, x, None, prompt, bert, top_k=1, early_stop_num=40, repetition_penalty=50.0)
    gen = strong[0, 5:].tolist()
    assert not torch.equal(plain, strong)
    assert len(set(gen)) > 0.8 * len(gen)  # a huge penalty forbids most repeats


def test_batch_equals_single_runs() -> None:
    model = tiny_model(7)
    g = torch.Generator().manual_seed(8)
    xs = [torch.randint(0, 20, (n,), generator=g) for n in (4, 11, 7)]
    berts = [torch.randn(1024, x.shape[0], generator=g) for x in xs]
    prompts = torch.randint(0, EOS, (3, 6), generator=g)
    with torch.no_grad():  # a random EOS row: items stop at different steps, one by early stop
        model.ar_predict_layer.weight[EOS] = torch.randn(32, generator=g)
    kw = {"top_k": 1, "early_stop_num": 25, "repetition_penalty": 1.35}
    ys, idxs = infer_batch(model, xs, None, prompts, berts, **kw)
    assert len(set(idxs)) == 3 and max(idxs) == 25  # rows leave the batch at different steps
    for i in range(3):
        y, idx = infer_panel(model, xs[i][None], None, prompts[i : i + 1], berts[i][None], **kw)
        stopped_on_eos = y.shape[1] - 6 == idx
        expected = y[0] if stopped_on_eos else y[0, :-1]  # the batch path always drops the last token
        assert idxs[i] == idx
        assert torch.equal(ys[i], expected)


def test_batch_reference_free_falls_back_to_single_runs() -> None:
    model = tiny_model(9)
    x, bert, _ = inputs(10)
    ys, idxs = infer_batch(model, [x[0]], None, None, [bert[0]], top_k=1, early_stop_num=15)
    y, idx = infer_panel(model, x, None, None, bert, top_k=1, early_stop_num=15)
    assert idxs == [0] == [idx] and torch.equal(ys[0], y[0])


def test_seeded_sampling_is_reproducible() -> None:
    model = tiny_model(11)
    x, bert, prompt = inputs(12)
    kw = {"top_k": 20, "top_p": 0.9, "temperature": 1.3, "early_stop_num": 30}

    def run(seed: int) -> list[int]:
        y, _ = infer_panel(model, x, None, prompt, bert, generator=torch.Generator().manual_seed(seed), **kw)
        return y[0].tolist()

    assert run(1) == run(1)
    assert run(2) == run(2)
    assert run(1) != run(2)
    greedy, _ = infer_panel(model, x, None, prompt, bert, top_k=1, early_stop_num=30)
    assert run(1) != greedy[0].tolist()
    legacy = [
        infer_legacy(model, x, None, prompt, bert, top_k=20, early_stop_num=20,
                     generator=torch.Generator().manual_seed(3)).tolist()
        for _ in range(2)
    ]  # fmt: skip
    assert legacy[0] == legacy[1]


@pytest.mark.cuda
def test_cuda_greedy_equals_cpu() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    model = tiny_model(13)
    x, bert, prompt = inputs(14)
    kw = {"top_k": 1, "early_stop_num": 20}
    y_cpu, idx_cpu = infer_panel(model, x, None, prompt, bert, **kw)
    gpu = model.to("cuda")
    y_gpu, idx_gpu = infer_panel(gpu, x.cuda(), None, prompt.cuda(), bert.cuda(), **kw)
    assert idx_gpu == idx_cpu and torch.equal(y_gpu.cpu(), y_cpu)
    g = torch.Generator("cuda").manual_seed(0)
    sampled, _ = infer_panel(
        gpu, x.cuda(), None, prompt.cuda(), bert.cuda(), top_k=10, generator=g, early_stop_num=20
    )
    assert sampled.is_cuda and sampled.shape[1] > prompt.shape[1]


def test_scripted_step_equals_eager_step() -> None:
    from GPT_SoVITS.models.gpt.fastpath import decode_layers, decode_layers_eager

    model = tiny_model(15)
    w = model.h.step_weights()
    g = torch.Generator().manual_seed(16)
    outs = []
    for fn in (decode_layers(), decode_layers_eager):
        cache = model.new_cache(2, 12)
        with torch.inference_mode():
            model.h(torch.randn(2, 7, 32, generator=torch.Generator().manual_seed(17)), None, cache)
            ok = torch.ones(2, 1, 1, 8, dtype=torch.bool)
            ok[1, ..., :3] = False  # row 1 may not see its first three keys
            outs.append(fn(torch.randn(2, 32, generator=g), cache.k, cache.v, 7, 2, w.tensors, w.eps, ok))
            g.manual_seed(16)
    assert not isinstance(decode_layers(), type(decode_layers_eager))  # really scripted here
    assert torch.allclose(outs[0], outs[1], atol=1e-6), (outs[0] - outs[1]).abs().max()


@pytest.mark.parametrize("compiled", [True, False], ids=["numba-kernels", "plain-numpy"])
@pytest.mark.parametrize("cached", [7, 12])  # 8 / 13 keys: the kernels' 8-wide blocks, with(out) a tail
def test_numpy_step_equals_eager_step_and_writes_the_same_cache(
    compiled: bool, cached: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from GPT_SoVITS.models.gpt import kernels
    from GPT_SoVITS.models.gpt.fastpath import decode_layers_eager, decode_layers_numpy

    monkeypatch.setattr(kernels, "ENABLED", compiled)
    assert (kernels.load() is not None) == compiled  # numba is a dependency: the kernels really run here
    model = tiny_model(20)
    w = model.h.step_weights()
    assert w.arrays is not None
    assert np.shares_memory(w.arrays[0][0], w.tensors[0][0].numpy())
    x = torch.randn(2, 32, generator=torch.Generator().manual_seed(21))
    n = cached + 1
    ok = torch.ones(2, n, dtype=torch.bool)
    ok[1, :3] = False  # row 1 may not see its first three keys
    caches, outs = [], []
    for numpy_step in (False, True):
        cache = model.new_cache(2, 16)
        with torch.inference_mode():
            model.h(torch.randn(2, cached, 32, generator=torch.Generator().manual_seed(22)), None, cache)
            if numpy_step:
                out = decode_layers_numpy(
                    x.numpy().copy(), cache.k.numpy(), cache.v.numpy(), cached, 2, w.arrays, w.eps, ok.numpy()
                )
                outs.append(torch.from_numpy(out))
            else:
                outs.append(
                    decode_layers_eager(x, cache.k, cache.v, cached, 2, w.tensors, w.eps, ok[:, None, None])
                )
        caches.append(cache)
    assert torch.allclose(outs[0], outs[1], atol=1e-5), (outs[0] - outs[1]).abs().max()
    for a, b in ((caches[0].k, caches[1].k), (caches[0].v, caches[1].v)):
        assert torch.allclose(a[:, :, :, :n], b[:, :, :, :n], atol=1e-5)
    masked = outs[1][1]  # the mask matters: without it row 1 differs
    free = decode_layers_numpy(
        x.numpy().copy(), caches[1].k.numpy(), caches[1].v.numpy(), cached, 2, w.arrays, w.eps, None
    )
    assert not np.allclose(free[1], masked.numpy(), atol=1e-4)
    assert np.allclose(free[0], outs[1][0].numpy(), atol=1e-6)  # row 0 saw every key either way


def test_kernels_fall_back_to_numpy_without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from GPT_SoVITS.models.gpt import kernels

    kernels._compiled.cache_clear()
    try:
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, "numba", None)  # "import numba" raises ImportError
            assert kernels.load() is None
            model = tiny_model(27)
            x, bert, prompt = inputs(28)
            tokens, _ = infer_panel(model, x, None, prompt, bert, top_k=1, early_stop_num=12)
            assert tokens.shape[1] > prompt.shape[1]
    finally:
        kernels._compiled.cache_clear()
    assert kernels.load() is not None  # numba back: compiled again (from the disk cache)


def test_numpy_head_gives_the_torch_step_logits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The numpy step's embedding row and output product equal embed_audio / logits; remade after edits."""
    from GPT_SoVITS.models.gpt import fastpath

    model = tiny_model(29)
    token = torch.tensor([[3], [41]])
    results = []
    for numpy_step in (True, False):
        monkeypatch.setattr(fastpath, "NUMPY_STEP", numpy_step)
        with torch.inference_mode():
            cache = model.new_cache(2, 20)
            model.h(torch.randn(2, 6, 32, generator=torch.Generator().manual_seed(31)), None, cache)
            results.append(step(model, token, 6, cache))
    assert model._numpy_head() is not None
    torch.testing.assert_close(results[0], results[1], atol=1e-5, rtol=1e-5)
    first = model._numpy_head()
    with torch.no_grad():
        model.ar_audio_position.alpha.fill_(2.0)
    assert model._numpy_head() is not first and model._numpy_head()[2] == 2.0
    with torch.inference_mode(), pytest.raises(ValueError, match="positional table"):
        step(model, token, model.ar_audio_position.pe.shape[0], model.new_cache(2, 8))


def test_numpy_prefill_equals_torch_prefill_with_padding_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    from GPT_SoVITS.models.gpt import fastpath

    model = tiny_model(25)
    xy = torch.randn(2, 9, 32, generator=torch.Generator().manual_seed(26))
    mask = attention_mask(6, 3)[None, None].repeat(2, 1, 1, 1)
    mask[1, ..., :2] = False  # row 1: two left-padding positions no query may see
    runs = []
    threads = torch.get_num_threads()
    for numpy_path in (True, False):
        monkeypatch.setattr(fastpath, "NUMPY_STEP", numpy_path)
        cache = model.new_cache(2, 12)
        with torch.inference_mode():
            runs.append((model.h(xy, mask, cache), cache))
        assert torch.get_num_threads() == threads  # the one-thread section restored the setting
    (a, ca), (b, cb) = runs
    assert ca.length == cb.length == 9
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ca.k[:, :, :, :9], cb.k[:, :, :, :9], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ca.v[:, :, :, :9], cb.v[:, :, :, :9], atol=1e-5, rtol=1e-5)


def test_numpy_and_torchscript_steps_decode_the_same_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    from GPT_SoVITS.models.gpt import fastpath

    model = tiny_model(23)
    x, bert, prompt = inputs(24)
    xs, berts = [x[0], x[0, :5]], [bert[0], bert[0, :, :5]]  # different lengths: left padding is masked
    prompts = prompt.repeat(2, 1)
    runs = []
    for numpy_step in (True, False):
        monkeypatch.setattr(fastpath, "NUMPY_STEP", numpy_step)
        runs.append(infer_batch(model, xs, None, prompts, berts, top_k=1, early_stop_num=25))
        runs.append(infer_panel(model, x, None, prompt, bert, top_k=1, early_stop_num=25))
    assert runs[0][1] == runs[2][1] and all(
        torch.equal(a, b) for a, b in zip(runs[0][0], runs[2][0], strict=True)
    )
    assert runs[1][1] == runs[3][1] and torch.equal(runs[1][0], runs[3][0])
    assert runs[1][0].shape[1] > prompt.shape[1] + MIN_STEPS


def test_step_weights_kept_per_model_and_remade_after_a_change() -> None:
    model = tiny_model(18)
    first = model.h.step_weights()
    assert model.h.step_weights() is first  # no new transposed copies per decoding run
    layer = model.h.layers[0]
    with torch.no_grad():
        layer.linear1.weight.mul_(2)  # in place: same storage, new version
    second = model.h.step_weights()
    assert second is not first
    assert torch.equal(second.tensors[0][4], layer.linear1.weight.t())
    other = tiny_model(19)
    model.load_state_dict(other.state_dict())  # copies into the same tensors
    assert torch.equal(model.h.step_weights().tensors[0][0], other.h.layers[0].self_attn.in_proj_weight.t())
    assert "_step_weights" not in "".join(model.state_dict())
