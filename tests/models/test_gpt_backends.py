"""Decoding backends: each one's layers equal the reference, the choice is explicit, and concurrent decodes
in one process do not interfere."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
import torch

from GPT_SoVITS.models.gpt import kernels
from GPT_SoVITS.models.gpt.backends import NumpyBackend, TorchBackend, choose_backend, head_arrays
from GPT_SoVITS.models.gpt.decode import DecodeLimits, infer_batch, infer_panel, iter_tokens
from GPT_SoVITS.models.gpt.fastpath import decode_layers, decode_layers_eager, step_weights
from GPT_SoVITS.models.gpt.model import attention_mask
from GPT_SoVITS.models.gpt.numpy_step import numpy_layers
from GPT_SoVITS.models.gpt.sampling import SamplingOptions
from tests.models.test_gpt_decode import BACKENDS, GREEDY, MIN_STEPS, inputs, tiny_model


def test_scripted_step_equals_eager_step() -> None:
    model = tiny_model(15)
    w = step_weights(model.h)
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
def test_numpy_step_equals_eager_step_and_writes_the_same_cache(compiled: bool, cached: int) -> None:
    compiled_kernels = kernels.load() if compiled else None
    assert (compiled_kernels is not None) == compiled  # numba is a dependency: the kernels really run here
    model = tiny_model(20)
    w = step_weights(model.h)
    assert w.arrays is not None
    assert np.shares_memory(w.arrays[0][0], w.tensors[0][0].numpy())
    x = torch.randn(2, 32, generator=torch.Generator().manual_seed(21))
    n = cached + 1
    ok = torch.ones(2, 1, 1, n, dtype=torch.bool)
    ok[1, ..., :3] = False  # row 1 may not see its first three keys
    caches, outs = [], []
    for numpy_step in (False, True):
        cache = model.new_cache(2, 16)
        with torch.inference_mode():
            model.h(torch.randn(2, cached, 32, generator=torch.Generator().manual_seed(22)), None, cache)
            k, v = cache.k.numpy(), cache.v.numpy()
            if numpy_step:
                out = numpy_layers(
                    x.numpy()[:, None], k, v, cached, w.arrays, w.eps, ok.numpy(), compiled_kernels
                )
                outs.append(torch.from_numpy(out[:, 0]))
            else:
                outs.append(decode_layers_eager(x, cache.k, cache.v, cached, 2, w.tensors, w.eps, ok))
        caches.append(cache)
    assert torch.allclose(outs[0], outs[1], atol=1e-5), (outs[0] - outs[1]).abs().max()
    for a, b in ((caches[0].k, caches[1].k), (caches[0].v, caches[1].v)):
        assert torch.allclose(a[:, :, :, :n], b[:, :, :, :n], atol=1e-5)
    masked = outs[1][1]  # the mask matters: without it row 1 differs
    k, v = caches[1].k.numpy(), caches[1].v.numpy()
    free = numpy_layers(x.numpy()[:, None], k, v, cached, w.arrays, w.eps, None, compiled_kernels)[:, 0]
    assert not np.allclose(free[1], masked.numpy(), atol=1e-4)
    assert np.allclose(free[0], outs[1][0].numpy(), atol=1e-6)  # row 0 saw every key either way


def test_kernels_fall_back_to_numpy_without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    kernels._compiled.cache_clear()
    try:
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, "numba", None)  # "import numba" raises ImportError
            backend = NumpyBackend()
            assert backend.kernels is None
            model = tiny_model(27)
            x, bert, prompt = inputs(28)
            tokens, _ = infer_panel(model, x, prompt, bert, GREEDY, DecodeLimits(12), backend)
            assert tokens.shape[1] > prompt.shape[1]
    finally:
        kernels._compiled.cache_clear()
    assert NumpyBackend().kernels is not None  # numba back: compiled again (from the disk cache)


def test_numpy_head_gives_the_torch_step_logits() -> None:
    """The numpy step's embedding row and output product equal embed_audio / logits; remade after edits."""
    model = tiny_model(29)
    token = torch.tensor([[3], [41]])
    results = []
    for backend in (NumpyBackend(), TorchBackend()):
        with torch.inference_mode():
            cache = model.new_cache(2, 20)
            model.h(torch.randn(2, 6, 32, generator=torch.Generator().manual_seed(31)), None, cache)
            results.append(backend.step(model, token, 6, cache))
    torch.testing.assert_close(results[0], results[1], atol=1e-5, rtol=1e-5)
    first = head_arrays(model)
    with torch.no_grad():
        model.ar_audio_position.alpha.fill_(2.0)
    assert head_arrays(model) is not first and head_arrays(model)[2] == 2.0
    with torch.inference_mode(), pytest.raises(ValueError, match="positional table"):
        NumpyBackend().step(model, token, model.ar_audio_position.pe.shape[0], model.new_cache(2, 8))


@pytest.mark.parametrize("name", ["numpy", "numpy-no-numba"])
def test_numpy_prefill_equals_torch_prefill_with_padding_mask(name: str) -> None:
    model = tiny_model(25)
    xy = torch.randn(2, 9, 32, generator=torch.Generator().manual_seed(26))
    mask = attention_mask(6, 3)[None, None].repeat(2, 1, 1, 1)
    mask[1, ..., :2] = False  # row 1: two left-padding positions no query may see
    runs = []
    for backend in (BACKENDS[name], TorchBackend()):
        cache = model.new_cache(2, 12)
        with torch.inference_mode():
            runs.append((backend.prefill(model, xy, mask, cache), cache))
    (a, ca), (b, cb) = runs
    assert ca.length == cb.length == 9
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ca.k[:, :, :, :9], cb.k[:, :, :, :9], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ca.v[:, :, :, :9], cb.v[:, :, :, :9], atol=1e-5, rtol=1e-5)


def test_backends_decode_the_same_tokens() -> None:
    model = tiny_model(23)
    x, bert, prompt = inputs(24)
    xs, berts = [x[0], x[0, :5]], [bert[0], bert[0, :, :5]]  # different lengths: left padding is masked
    prompts = prompt.repeat(2, 1)
    limits = DecodeLimits(early_stop_num=25)
    runs = {
        name: (
            infer_batch(model, xs, prompts, berts, GREEDY, limits, backend),
            infer_panel(model, x, prompt, bert, GREEDY, limits, backend),
        )
        for name, backend in BACKENDS.items()
    }
    (ys, idxs), (y, idx) = runs["torch"]
    assert y.shape[1] > prompt.shape[1] + MIN_STEPS
    for (ys_b, idxs_b), (y_b, idx_b) in runs.values():
        assert idxs_b == idxs and all(torch.equal(a, b) for a, b in zip(ys_b, ys, strict=True))
        assert idx_b == idx and torch.equal(y_b, y)


def test_step_weights_kept_per_model_and_remade_after_a_change() -> None:
    model = tiny_model(18)
    first = step_weights(model.h)
    assert step_weights(model.h) is first  # no new transposed copies per decoding run
    layer = model.h.layers[0]
    with torch.no_grad():
        layer.linear1.weight.mul_(2)  # in place: same storage, new version
    second = step_weights(model.h)
    assert second is not first
    assert torch.equal(second.tensors[0][4], layer.linear1.weight.t())
    other = tiny_model(19)
    model.load_state_dict(other.state_dict())  # copies into the same tensors
    assert torch.equal(step_weights(model.h).tensors[0][0], other.h.layers[0].self_attn.in_proj_weight.t())
    assert "_step_weights" not in "".join(model.state_dict())


def test_choose_backend_is_explicit() -> None:
    cpu = torch.device("cpu")
    assert isinstance(choose_backend("auto", cpu), NumpyBackend)
    assert isinstance(choose_backend("torch", cpu), TorchBackend)
    assert isinstance(choose_backend("auto", cpu, torch.bfloat16), TorchBackend)
    low = choose_backend("auto", cpu, torch.float32, "fp16")
    assert isinstance(low, TorchBackend) and low.precision == "fp16"
    assert isinstance(choose_backend("auto", torch.device("cuda")), TorchBackend)
    with pytest.raises(ValueError, match="--gpt-backend numpy"):
        choose_backend("numpy", cpu, torch.float32, "fp16")
    with pytest.raises(ValueError, match="--gpt-backend"):
        choose_backend("jax", cpu)
    half = tiny_model(40).to(torch.bfloat16)
    with torch.inference_mode(), pytest.raises(ValueError, match="float32 CPU model"):
        NumpyBackend().prefill(half, torch.zeros(1, 2, 32, dtype=torch.bfloat16), None, half.new_cache(1, 4))


@pytest.mark.parametrize("name", ["torch", "numpy"])
def test_decoding_never_changes_the_thread_setting(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Thread use is the process's: a decode that switched it would fight a concurrent one."""

    def refuse(n: int) -> None:
        raise AssertionError(f"torch.set_num_threads({n}) called while decoding")

    model = tiny_model(41)
    x, bert, prompt = inputs(42)
    monkeypatch.setattr(torch, "set_num_threads", refuse)
    tokens = list(iter_tokens(model, x, prompt, bert, GREEDY, DecodeLimits(15), BACKENDS[name]))
    assert len(tokens) == 16


def _decode(model, x, bert, prompt, backend, seed: int) -> list[int]:
    """Greedy and seeded-sampled tokens of one input (the sampled run is sensitive to any logit change)."""
    sampled = SamplingOptions(top_k=20, top_p=0.95, temperature=1.2)
    limits = DecodeLimits(early_stop_num=40)
    greedy, _ = infer_panel(model, x, prompt, bert, GREEDY, limits, backend)
    drawn, _ = infer_panel(
        model, x, prompt, bert, sampled, limits, backend, torch.Generator().manual_seed(seed)
    )
    return [*greedy[0].tolist(), -1, *drawn[0].tolist()]


@pytest.mark.parametrize(("first", "second"), [("numpy", "numpy"), ("torch", "torch"), ("numpy", "torch")])
def test_two_concurrent_decodes_equal_the_same_decodes_alone(first: str, second: str) -> None:
    """Two decoders in two threads of one process (as an API with two workers): different models and
    inputs, each run several times while the other runs; every result is bit-equal to its run alone
    (exact token equality: the seeded sampling would change with any logit difference)."""
    jobs = [
        (tiny_model(50), *inputs(51), BACKENDS[first], 1),
        (tiny_model(52), *inputs(53, n=7, p=4), BACKENDS[second], 2),
    ]
    alone = [_decode(*job) for job in jobs]
    assert alone[0] != alone[1]
    results: list[list[list[int]]] = [[], []]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(i: int) -> None:
        try:
            start.wait()
            for _ in range(4):
                results[i].append(_decode(*jobs[i]))
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(2):
        assert results[i] == [alone[i]] * 4
