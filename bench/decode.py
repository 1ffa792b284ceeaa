"""GPT decoding speed against the memory-bandwidth floor, measured in one run.

    python -m bench.decode [--threads 2] [--tokens 200] [--legacy-tokens 8]

Builds the full-size v2 GPT (sizes from ../shared/parity/inventory/v2_gpt.json when present, else the
s1longer-v2 defaults) with random weights, decodes greedily with the KV cache (``--gpt-backend``, as the
engine chooses it) and with the legacy
full-recomputation path, and compares the time per token with the floor = fp32 weight bytes read per
token / copy bandwidth (a large tensor copy, read + write bytes). Prints ratios; never asserts.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from GPT_SoVITS.models.gpt import Text2SemanticDecoder, build_gpt, load_gpt_model
from GPT_SoVITS.models.gpt.backends import BACKENDS, DecodeBackend, choose_backend
from GPT_SoVITS.models.gpt.decode import DecodeLimits, iter_tokens, prefill
from GPT_SoVITS.models.gpt.fastpath import PRECISIONS
from GPT_SoVITS.models.gpt.sampling import SamplingOptions
from GPT_SoVITS.parity.core import find_model
from GPT_SoVITS.parity.hooks import infer_legacy

GOLDEN = Path(__file__).resolve().parent.parent.parent / "shared" / "parity" / "golden"
INVENTORY = Path(__file__).resolve().parent.parent.parent / "shared" / "parity" / "inventory" / "v2_gpt.json"
# s1longer-v2.yaml model section, used when the inventory is not beside the checkout
S1LONGER_V2 = {
    "vocab_size": 1025, "phoneme_vocab_size": 732, "embedding_dim": 512, "hidden_dim": 512,
    "head": 16, "n_layer": 24, "dropout": 0, "EOS": 1024,
}  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.decode", description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--tokens", type=int, default=200, help="tokens generated with the KV cache")
    p.add_argument("--legacy-tokens", type=int, default=8, help="tokens generated without cache (slow)")
    p.add_argument("--official-tokens", type=int, default=100, help="tokens of the official-style lockstep")
    p.add_argument(
        "--precisions",
        nargs="+",
        default=["fp32", "bf16", "fp16"],
        choices=list(PRECISIONS),
        help="per-token step precisions timed against the official-style step",
    )
    p.add_argument("--golden", type=Path, default=GOLDEN, help="golden folder for the precision drift")
    p.add_argument("--drift-steps", type=int, default=60, help="greedy steps per golden input (drift)")
    p.add_argument("--phones", type=int, default=60, help="text length in phonemes")
    p.add_argument("--prompt", type=int, default=75, help="prompt length in semantic tokens (25 per second)")
    p.add_argument(
        "--config", type=Path, default=INVENTORY, help="inventory JSON whose config sizes the model"
    )
    p.add_argument("--device", default="cpu", help="torch device (cpu or cuda)")
    p.add_argument("--gpt-backend", default="auto", choices=BACKENDS, help="decoding backend of the kv run")
    return p.parse_args(argv)


def copy_bandwidths(device: torch.device, mbytes: int = 512, repeats: int = 7) -> list[float]:
    """Bytes moved per second (read + write) by each of a few copies of a large tensor."""
    src = torch.ones(mbytes * 2**20 // 4, device=device)
    dst = torch.empty_like(src)
    rates = []
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        dst.copy_(src)
        _sync(device)
        rates.append(2 * src.numel() * 4 / (time.perf_counter() - t))
    return rates


def weight_bytes_per_token(model: Text2SemanticDecoder) -> int:
    """fp32 bytes every decoding step must read: the transformer, the output layer, one embedding row."""
    n = sum(p.numel() for p in model.h.parameters()) + model.ar_predict_layer.weight.numel()
    n += model.dims.embedding_dim + 1  # one audio embedding row and alpha
    return 4 * n


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model(config_path: Path, device: torch.device) -> Text2SemanticDecoder:
    sizes = json.loads(config_path.read_text())["config"] if config_path.is_file() else {"model": S1LONGER_V2}
    torch.manual_seed(0)
    model = build_gpt(sizes).to(device).eval()
    with torch.no_grad():  # an EOS logit of 0 is never the argmax: every run has the requested length
        model.ar_predict_layer.weight[model.eos].zero_()
    return model


def _inputs(model: Text2SemanticDecoder, args: argparse.Namespace, device: torch.device):
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, model.dims.phoneme_vocab_size, (1, args.phones), generator=g).to(device)
    bert = torch.randn(1, model.dims.bert_dim, args.phones, generator=g).to(device)
    prompt = torch.randint(0, model.eos, (1, args.prompt), generator=g).to(device)
    return x, bert, prompt


GREEDY = SamplingOptions(top_k=1)


def time_kv(
    model, x, bert, prompt, n: int, device, backend: DecodeBackend
) -> tuple[float, list[float], float]:
    """(prefill seconds, wall seconds of each following token, process CPU seconds per token).

    The CPU time excludes the time the process waited for a core, so on a shared machine it shows the
    work done per token (for one thread; with more it also counts threads waiting for each other).
    """
    stamps, cpu = [], []
    _sync(device)
    t0 = time.perf_counter()
    for _ in iter_tokens(model, x, prompt, bert, GREEDY, DecodeLimits(n - 1, n), backend):
        _sync(device)
        stamps.append(time.perf_counter())
        cpu.append(time.process_time())
    steps = [b - a for a, b in itertools.pairwise(stamps)]
    return stamps[0] - t0, steps, (cpu[-1] - cpu[0]) / (len(cpu) - 1)


def time_legacy(model, x, bert, prompt, n: int, device) -> float:
    """Seconds per token of the no-cache path (every step recomputes text + prompt + generated)."""
    _sync(device)
    t0 = time.perf_counter()
    y = infer_legacy(model, x, None, prompt, bert, top_k=1, early_stop_num=n - 1, max_steps=n + 1)
    _sync(device)
    return (time.perf_counter() - t0) / (y.shape[1] - prompt.shape[1])


def kv_bytes_per_token(model: Text2SemanticDecoder, positions: float) -> float:
    """fp32 bytes of cached keys and values one step reads at a given sequence length."""
    return 2 * 4 * model.dims.num_layers * model.dims.hidden_dim * positions


# --- official-style baseline -------------------------------------------------------------------------
# How the official T2SBlock.process_one computes a token (scripted classes there, a scripted function
# here): F.linear on the (out, in) parameters, the per-layer cache (B, S, D) grown with torch.cat every
# step, F.scaled_dot_product_attention, post-norm layer norms, ReLU FFN. Same weights, same math.
def _official_layers(
    x: torch.Tensor,
    ks: list[torch.Tensor],
    vs: list[torch.Tensor],
    weights: list[list[torch.Tensor]],
    heads: int,
    eps: list[float],
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """x (B, 1, D); ks/vs[i] (B, S, D) -> x, caches grown to S + 1 (new lists: the official returns them)."""
    b = x.shape[0]
    d = x.shape[2]
    new_k: list[torch.Tensor] = []
    new_v: list[torch.Tensor] = []
    for i in range(len(weights)):
        w = weights[i]
        q, k, v = F.linear(x, w[0], w[1]).chunk(3, dim=-1)
        k_cache = torch.cat([ks[i], k], dim=1)
        v_cache = torch.cat([vs[i], v], dim=1)
        s = k_cache.shape[1]
        qh = q.view(b, 1, heads, -1).transpose(1, 2)
        kh = k_cache.view(b, s, heads, -1).transpose(1, 2)
        vh = v_cache.view(b, s, heads, -1).transpose(1, 2)
        att = F.scaled_dot_product_attention(qh, kh, vh).transpose(1, 2).reshape(b, 1, d)
        x = F.layer_norm(x + F.linear(att, w[2], w[3]), [d], w[8], w[9], eps[2 * i])
        x = F.layer_norm(x + F.linear(F.relu(F.linear(x, w[4], w[5])), w[6], w[7]), [d], w[10], w[11],
                         eps[2 * i + 1])  # fmt: skip
        new_k.append(k_cache)
        new_v.append(v_cache)
    return x, new_k, new_v


def _official_weights(model: Text2SemanticDecoder) -> tuple[list[list[torch.Tensor]], list[float], int]:
    layers = model.h.layers
    weights = [
        [ly.self_attn.in_proj_weight, ly.self_attn.in_proj_bias, ly.self_attn.out_proj.weight,
         ly.self_attn.out_proj.bias, ly.linear1.weight, ly.linear1.bias, ly.linear2.weight, ly.linear2.bias,
         ly.norm1.weight, ly.norm1.bias, ly.norm2.weight, ly.norm2.bias]
        for ly in layers
    ]  # fmt: skip
    eps = [float(e) for ly in layers for e in (ly.norm1.eps, ly.norm2.eps)]
    return weights, eps, layers[0].self_attn.num_heads


def time_against_official(
    model: Text2SemanticDecoder, x, bert, prompt, n: int, device, precisions: list[str]
) -> dict[str, dict[str, float]]:
    """Greedy steps of the official-style step and of ours (per precision), same prefill, phase by phase.

    Phases rather than alternating steps: our float32 CPU step runs on numpy's OpenBLAS threads and the
    official-style one on torch's OpenMP threads; alternating them every step made each wait for the
    other's spinning threads (the official-style step took 50+ ms instead of ~27), which no real run of
    either does. The official-style phase runs first and last (a busy machine shows as a gap between the
    two). Returns per variant ("official", then each precision): median ms, its ratio to the official's
    median and the share of steps choosing the official's greedy token.
    """
    step_fn = torch.jit.script(_official_layers)
    weights, eps, heads = _official_weights(model)
    d, nl = model.dims.hidden_dim, model.dims.num_layers
    s0 = x.shape[1] + prompt.shape[1]
    ms: dict[str, list[float]] = {name: [] for name in ["official", *precisions]}
    tokens: dict[str, list[int]] = {}
    with torch.inference_mode():
        for name in ["official", *precisions, "official"]:
            cache = model.new_cache(1, s0 + n, device)
            backend = choose_backend("auto", device, model.ar_predict_layer.weight.dtype, _precision(name))
            logits = prefill(model, model.embed_text(x, bert), model.embed_audio(prompt), cache, backend)
            if name == "official":
                ks = [cache.k[i, :, :, :s0].transpose(1, 2).reshape(1, s0, d).clone() for i in range(nl)]
                vs = [cache.v[i, :, :, :s0].transpose(1, 2).reshape(1, s0, d).clone() for i in range(nl)]
            chosen = []
            for s in range(n):
                tok = logits[:, : model.eos].argmax(-1, keepdim=True)
                chosen.append(int(tok))
                _sync(device)
                t0 = time.perf_counter()
                if name == "official":
                    h, ks, vs = step_fn(
                        model.embed_audio(tok, start=prompt.shape[1] + s), ks, vs, weights, heads, eps
                    )
                    logits = model.logits(h[:, -1])
                else:
                    logits = backend.step(model, tok, prompt.shape[1] + s, cache)
                _sync(device)
                ms[name].append(1e3 * (time.perf_counter() - t0))
            tokens[name] = chosen
    official = statistics.median(ms["official"])
    return {
        name: {
            "ms": statistics.median(t),
            "ratio": statistics.median(t) / official,
            "same_tokens": sum(a == b for a, b in zip(tokens[name], tokens["official"], strict=True)) / n,
        }
        for name, t in ms.items()
    }


def _precision(name: str) -> str:
    return "fp32" if name == "official" else name


def _greedy(model, x, bert, prompt, precision: str, n: int, forced: list[int] | None):
    """Greedy tokens and logits (n, V) of n steps; with ``forced`` the steps are fed those tokens."""
    with torch.inference_mode():
        cache = model.new_cache(1, x.shape[1] + prompt.shape[1] + n)
        backend = choose_backend("auto", torch.device("cpu"), torch.float32, precision)
        logits = prefill(model, model.embed_text(x, bert), model.embed_audio(prompt), cache, backend)
        tokens, rows = [], []
        for s in range(n):
            rows.append(logits[0])
            tokens.append(int(logits[:, : model.eos].argmax()))
            feed = tokens[-1] if forced is None else forced[s]
            logits = backend.step(model, torch.tensor([[feed]]), prompt.shape[1] + s, cache)
    return tokens, torch.stack(rows)


def golden_drift(golden: Path, precision: str, n: int) -> str:
    """Reduced-precision step against fp32 on the golden GPT and every single-item golden input.

    Teacher-forced on the fp32 greedy tokens: max |logit error| and the share of steps with the same
    greedy token; free-running: how many greedy sequences of n tokens stay identical.
    """
    model = load_gpt_model(find_model(golden, "gpt"), "cpu")
    data = np.load(golden / "gpt_decode_inputs.npz")
    prefixes = [k.removesuffix("_phoneme_ids") for k in data.files if k.endswith("_phoneme_ids")]
    prefixes = [p for p in prefixes if f"{p}_prompt" in data.files and data[f"{p}_phoneme_ids"].ndim == 2]
    err, agree, identical = 0.0, 0, 0
    for p in prefixes:
        x, prompt = (torch.from_numpy(data[f"{p}_{k}"]).long() for k in ("phoneme_ids", "prompt"))
        bert = torch.from_numpy(data[f"{p}_bert_feature"]).float()
        ref_tokens, ref_logits = _greedy(model, x, bert, prompt, "fp32", n, None)
        tokens, logits = _greedy(model, x, bert, prompt, precision, n, ref_tokens)
        err = max(err, (logits - ref_logits).abs().max().item())
        agree += sum(a == b for a, b in zip(tokens, ref_tokens, strict=True))
        identical += _greedy(model, x, bert, prompt, precision, n, None)[0] == ref_tokens
    return (
        f"max |logit error| {err:.2e} (teacher-forced, {len(prefixes)} inputs x {n} steps),"
        f" same greedy token {100 * agree / (n * len(prefixes)):.1f} %,"
        f" free-running greedy sequences identical {identical}/{len(prefixes)}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = _model(args.config, device)
    x, bert, prompt = _inputs(model, args, device)
    backend = choose_backend(args.gpt_backend, device)
    time_kv(model, x, bert, prompt, 12, device, backend)  # warm-up (allocator, kernels)
    bw = copy_bandwidths(device)
    prefill_s, steps, cpu_s = time_kv(model, x, bert, prompt, args.tokens, device, backend)
    legacy_s = time_legacy(model, x, bert, prompt, args.legacy_tokens, device)
    official = time_against_official(model, x, bert, prompt, args.official_tokens, device, args.precisions)
    bw += copy_bandwidths(device)  # before and after: the machine may be shared
    wbytes = weight_bytes_per_token(model)
    kv_med, kv_best = statistics.median(steps), min(steps)
    floor_med, floor_best = wbytes / statistics.median(bw), wbytes / max(bw)
    mean_len = args.phones + args.prompt + args.tokens / 2
    d = model.dims
    kv_mb = kv_bytes_per_token(model, mean_len) / 1e6
    lines = [
        f"model: {d.num_layers} layers, dim {d.hidden_dim}, {d.num_heads} heads; threads {args.threads}"
        f" (decoding backend: {backend.name})",
        f"text {args.phones} phones, prompt {args.prompt} tokens, {args.tokens} tokens generated",
        f"copy bandwidth: median {statistics.median(bw) / 1e9:.1f} GB/s, best {max(bw) / 1e9:.1f} GB/s",
        f"fp32 weights read per token {wbytes / 1e6:.1f} MB"
        f" (+ {kv_mb:.1f} MB of cached keys/values at the mean length {mean_len:.0f})",
        f"prefill ({args.phones + args.prompt} positions): {prefill_s * 1e3:.1f} ms",
        f"kv cache : {1 / kv_med:7.1f} tokens/s, {kv_med * 1e3:6.2f} ms/token median,"
        f" {kv_best * 1e3:.2f} best",
        f"legacy   : {1 / legacy_s:7.1f} tokens/s, {legacy_s * 1e3:6.2f} ms/token"
        f" ({args.legacy_tokens} tokens)",
        f"floor    : {1 / floor_med:7.1f} tokens/s, {floor_med * 1e3:6.2f} ms/token median,"
        f" {floor_best * 1e3:.2f} best",
        f"kv cache / floor = {kv_med / floor_med:.2f}x median, {kv_best / floor_best:.2f}x best"
        " (target <= 1.2)",
        f"process CPU time per token {cpu_s * 1e3:.2f} ms ({args.threads} threads together);"
        f" / floor (best) = {cpu_s / floor_best:.2f}x",
        f"legacy / kv cache = {legacy_s / kv_med:.1f}x",
        f"official-style step (same weights, {args.official_tokens} tokens, before and after ours):"
        f" {official['official']['ms']:.2f} ms median",
    ]
    for p in args.precisions:
        r = official[p]
        lines.append(
            f"  ours {p}: {r['ms']:.2f} ms median; ours / official = {r['ratio']:.2f}x;"
            f" official's greedy token {100 * r['same_tokens']:.0f} %"
        )
    if args.golden.is_dir():
        for p in args.precisions:
            if p != "fp32":
                lines.append(
                    f"  {p} drift on {args.golden}: " + golden_drift(args.golden, p, args.drift_steps)
                )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
