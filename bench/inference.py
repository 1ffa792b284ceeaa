"""End-to-end synthesis speed of the engine against floors measured in the same run.

    python -m bench.inference [--threads 2] [--tokens 50] [--cut cut5] [--device cpu] [--precision fp32]

Full-size v2 models (official default configs) with random weights, a fixed 200-character Chinese text,
a fixed number of semantic tokens per segment (EOS is masked and the guard's limit stops each segment
at exactly ``--tokens``). Prints the stage split (frontend incl. BERT, GPT, SoVITS), the real-time
factor, and each stage's ratio to its floor:
- frontend: the BERT products for the positions it must run (each piece's characters + [CLS]/[SEP],
  counted from the token ids of the passes made: texts are packed, never padded; FLOPs per position
  counted with hooks on the layers the features need) / measured sgemm rate; the rule-based G2P has no
  floor;
- GPT: per pass over the weights (one per generated token, or per batch of tokens with --batch-size;
  counted), the fp32 weight bytes that must be read / measured read bandwidth, plus the prefill FLOPs /
  measured sgemm rate, for every position each segment's prefill runs (prompt phonemes + segment
  phonemes + prompt tokens, counted by a hook on the layer stack);
- SoVITS: the FLOPs of its convolutions and matmuls (counted with hooks on one segment, scaled by
  tokens) / measured sgemm rate.
The floors' rates are sampled before and after the run (5 samples each side, 0.3 s apart). On a shared
VM the read bandwidth swings (an idle process measured 23-44 GB/s over 45 s here), so the table uses the
median sample and a second line gives the ratios against the best sample.
Never asserts; absolute numbers drift with machine load, ratios are what to compare.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

TEXT = (
    "先帝创业未半而中道崩殂，今天下三分，益州疲弊，此诚危急存亡之秋也。然侍卫之臣不懈于内，忠志之士忘身于外者，"
    "盖追先帝之殊遇，欲报之于陛下也。诚宜开张圣听，以光先帝遗德，恢弘志士之气，不宜妄自菲薄，引喻失义，"
    "以塞忠谏之路也。宫中府中，俱为一体，陟罚臧否，不宜异同。若有作奸犯科及为忠善者，宜付有司论其刑赏，"
    "以昭陛下平明之理，不宜偏私，使内外异法也。侍中侍郎郭攸之、费祎、董允等，此皆良实，志虑忠纯，"
    "是以先帝简拔以遗陛下。愚以为宫中之事，事无大小，悉以咨之，然后施行，必能裨补阙漏，有所广益。"
)[:200]
PROMPT = "今天天气很好，我们一起去公园散步吧。"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.inference", description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument(
        "--tokens", type=int, default=50, help="semantic tokens generated per segment (25 per second)"
    )
    p.add_argument(
        "--text-chars", type=int, default=200, help="use the first N characters of the text (smoke runs)"
    )
    p.add_argument("--cut", default="cut5", choices=[f"cut{i}" for i in range(6)], help="text split method")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"), help="model precision")
    p.add_argument(
        "--batch-size", type=int, default=1, help="segments decoded together (the request's batch_size)"
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="start-up only: the API warm-up, then the first request vs a warm one (target <= 1.5x)",
    )
    return p.parse_args(argv)


def read_bandwidth(device: torch.device, mbytes: int = 512, repeats: int = 7) -> float:
    """Best bytes/s of a full read (sum) of a large fp32 tensor."""
    x = torch.ones(mbytes * 2**20 // 4, device=device)
    best = 0.0
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        x.sum()
        sync(device)
        best = max(best, x.numel() * 4 / (time.perf_counter() - t))
    return best


def sgemm_rate(device: torch.device, dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Best FLOP/s of an n x n x n matmul in ``dtype``."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def sample_floors(
    device: torch.device, dtype: torch.dtype, samples: int = 5, pause: float = 0.3
) -> tuple[list[float], list[float]]:
    """(read bandwidths, matmul rates), ``samples`` of each, ``pause`` seconds apart."""
    bws, rates = [], []
    for i in range(samples):
        if i:
            time.sleep(pause)
        bws.append(read_bandwidth(device, repeats=3))
        rates.append(sgemm_rate(device, dtype, repeats=3))
    return bws, rates


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def count_flops(module: torch.nn.Module, run) -> float:
    """Multiply-add FLOPs (x2) of every Conv1d / ConvTranspose1d / Linear call while ``run()`` executes."""
    total = [0.0]

    def hook(m: torch.nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        if isinstance(m, torch.nn.Linear):
            total[0] += 2 * out.numel() * m.in_features
        elif isinstance(m, torch.nn.Conv1d):
            total[0] += 2 * out.numel() * m.in_channels // m.groups * m.kernel_size[0]
        elif isinstance(m, torch.nn.ConvTranspose1d):
            x = inputs[0]
            total[0] += 2 * x.numel() * m.out_channels // m.groups * m.kernel_size[0]

    kinds = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.ConvTranspose1d)
    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, kinds)]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return total[0]


def build_models(folder: Path, text: str) -> tuple[Path, Path, Path, Path]:
    """Random full-size v2 GPT + SoVITS (official default configs), BERT-large and HuBERT-base folders."""
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer, HubertConfig, HubertModel

    from GPT_SoVITS.checkpoints import save_gpt, save_sovits
    from GPT_SoVITS.config.gpt import default_gpt_config
    from GPT_SoVITS.config.sovits import SoVITSConfig
    from GPT_SoVITS.models.gpt import build_gpt
    from GPT_SoVITS.models.sovits import build_sovits

    torch.manual_seed(0)
    gpt_cfg = default_gpt_config("v2").to_dict()
    save_gpt(folder / "bench-e1.ckpt", build_gpt(gpt_cfg).state_dict(), gpt_cfg, "GPT-e1")
    sovits_cfg = SoVITSConfig().to_dict()
    sovits = build_sovits(sovits_cfg)
    for name, buf in sovits.named_buffers():
        if name.endswith("inited"):  # a trained codebook: no k-means at the first reference
            buf.fill_(1.0)
    save_sovits(
        folder / "bench_e1_s1.pth", sovits.state_dict(), sovits_cfg, "1epoch_1iteration", version="v2"
    )
    # chinese-roberta-wwm-ext-large sizes; the vocabulary holds only this text's characters (the embedding
    # table size does not change the compute per token).
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(text + PROMPT))]
    bert = folder / "bert"
    bert.mkdir()
    (bert / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizer(str(bert / "vocab.txt")).save_pretrained(bert)
    large = BertConfig(
        vocab_size=len(vocab),
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
    )
    BertForMaskedLM(large).save_pretrained(bert)
    HubertModel(HubertConfig()).save_pretrained(folder / "hubert")  # chinese-hubert-base sizes
    return folder / "bench-e1.ckpt", folder / "bench_e1_s1.pth", bert, folder / "hubert"


def mask_eos(model: torch.nn.Module) -> None:
    """EOS logit -> -inf, so every segment runs to the fixed token count (bench only)."""
    eos = model.eos

    def hook(module: torch.nn.Module, inputs: tuple, out: torch.Tensor) -> torch.Tensor:
        out[..., eos] = float("-inf")
        return out

    model.ar_predict_layer.register_forward_hook(hook)


def reference_clip(path: Path, seconds: float = 5.0, sr: int = 32000) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(140 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))) / sr
    wav = sum(np.sin(k * phase) / k for k in range(1, 8)) * (np.sin(2 * np.pi * 2.5 * t) > -0.3)
    sf.write(path, (0.5 * wav / np.abs(wav).max()).astype(np.float32), sr)
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from GPT_SoVITS.inference.engine import TTSEngine
    from GPT_SoVITS.inference.guard import GuardConfig
    from GPT_SoVITS.inference.request import TTSRequest

    with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        gpt, sovits, bert, hubert = build_models(folder, TEXT)
        # token limit N - 1: the decoder yields one token past the limit, so every segment has exactly N
        guard = GuardConfig(max_tokens_per_phone=0.0, slack_tokens=args.tokens - 1)
        engine = TTSEngine(gpt, sovits, bert, hubert, args.device, args.precision, guard=guard)
        print(f"models built and loaded in {time.perf_counter() - t0:.1f} s")
        mask_eos(engine.gpt.model)
        ref = reference_clip(folder / "ref.wav")
        if args.cold:
            return cold_start(engine, folder, TEXT[:24])
        text = TEXT[: args.text_chars]
        req = TTSRequest(
            text=text,
            text_lang="zh",
            ref_audio_path=str(ref),
            prompt_text=PROMPT,
            prompt_lang="zh",
            text_split_method=args.cut,
            seed=1,
            max_retries=0,
            fragment_interval=0.0,
            batch_size=args.batch_size,
        )
        t = time.perf_counter()
        engine.prepare_reference(ref)
        ref_s = time.perf_counter() - t
        engine.synthesize(
            req.replace(text=text[:12])
        )  # warm-up: first-call allocations, frontend dictionaries
        before = sample_floors(engine.device, engine.dtype)
        with count_positions(engine) as work:
            result = engine.synthesize(req)
        t = time.perf_counter()
        next(iter(engine.stream(req.replace(streaming_mode=3, min_chunk_length=16))))
        first_chunk = time.perf_counter() - t
        report(args, engine, result, ref_s, before, first_chunk, work)
    return 0


def cold_start(engine, folder: Path, text: str) -> int:
    """First request after start-up (the API's background warm-up done) against a warm request; each
    uses a reference not seen before, so both pay its preparation and only compilation differs."""
    from GPT_SoVITS.api.warmup import warm_up
    from GPT_SoVITS.inference.request import TTSRequest

    warm_s = warm_up(engine)
    times = []
    for i, seconds in enumerate((5.0, 5.5, 6.0)):
        ref = reference_clip(folder / f"cold{i}.wav", seconds)
        req = TTSRequest(text=text, text_lang="zh", ref_audio_path=str(ref), prompt_text=PROMPT,
                         prompt_lang="zh", seed=1, max_retries=0)  # fmt: skip
        t = time.perf_counter()
        engine.synthesize(req)
        times.append(time.perf_counter() - t)
    warm = min(times[1:])
    print(f"warm-up {warm_s:.2f} s; first request {times[0]:.3f} s, warm request {warm:.3f} s")
    print(f"first / warm = {times[0] / warm:.2f}x (target <= 1.5x)")
    return 0


@contextlib.contextmanager
def count_positions(engine):
    """Positions run by BERT (the token ids of each pass: texts are packed, not padded) and by the GPT
    prefill (the decoding backend's prefills), and GPT passes over the weights (prefills + per-token
    steps; a batched step serves several segments with one pass), while the block runs."""
    work = {"bert": 0, "prefill": 0, "passes": 0}
    backend = engine.gpt_backend
    prefill, step = backend.prefill, backend.step

    def counted_prefill(model, xy, *args, **kwargs):
        work["prefill"] += xy.shape[0] * xy.shape[1]  # (B, T, E)
        work["passes"] += 1
        return prefill(model, xy, *args, **kwargs)

    def counted_step(*args, **kwargs):
        work["passes"] += 1
        return step(*args, **kwargs)

    def bert_hook(module, args, kwargs, out) -> None:
        work["bert"] += int(kwargs["input_ids"].numel())

    handles = []
    if engine.bert is not None:
        handles.append(engine.bert.model.register_forward_hook(bert_hook, with_kwargs=True))
    backend.prefill, backend.step = counted_prefill, counted_step  # instance attributes shadow the methods
    try:
        yield work
    finally:
        del backend.prefill, backend.step  # the class's methods again
        for h in handles:
            h.remove()


def stage_floors(engine, result, work: dict) -> tuple[dict[str, float], Callable[[float, float], dict]]:
    """The work counted for each stage, and a function (bandwidth, matmul rate) -> floor seconds."""
    device = engine.device
    gpt_model, sov = engine.gpt.model, engine.sovits.model
    n_tokens = sum(s.tokens for s in result.segments)
    weights = sum(p.numel() for p in gpt_model.h.parameters()) + gpt_model.ar_predict_layer.weight.numel()
    bert_flops = 0.0
    if engine.bert is not None and work["bert"]:
        probe = TEXT[:10]
        with torch.inference_mode():
            flops = count_flops(engine.bert.model, lambda: engine.bert.char_features(probe))
        bert_flops = flops / (len(probe) + 2) * work["bert"]
    seg = result.segments[0]
    codes = torch.zeros(1, 1, seg.tokens, dtype=torch.long, device=device)
    text = torch.zeros(1, seg.phonemes, dtype=torch.long, device=device)
    spec = torch.ones(1, 1025, 200, device=device, dtype=engine.dtype)
    with torch.inference_mode():
        per_token = count_flops(sov, lambda: sov.decode(codes, text, [spec], noise_scale=0.5)) / seg.tokens
    counted = {
        "tokens": n_tokens,
        "prefill_flops": 2 * weights * work["prefill"],
        "sovits_flops": per_token * n_tokens,
    }

    def floors(bw: float, rate: float) -> dict[str, float]:
        return {
            "frontend": bert_flops / rate,
            "gpt": work["passes"] * weights * 4 / bw + counted["prefill_flops"] / rate,
            "sovits": counted["sovits_flops"] / rate,
        }

    return counted, floors


def report(
    args: argparse.Namespace, engine, result, ref_s: float, before: tuple, first_chunk: float, work: dict
) -> None:
    after = sample_floors(engine.device, engine.dtype)
    bws, rates = before[0] + after[0], before[1] + after[1]
    counted, floors = stage_floors(engine, result, work)
    bw, rate = statistics.median(bws), statistics.median(rates)
    floor, best = floors(bw, rate), floors(max(bws), max(rates))
    n_tokens, t = counted["tokens"], result.timings
    total = t["frontend"] + t["gpt"] + t["sovits"]
    gpt_params = sum(p.numel() for p in engine.gpt.model.parameters()) / 1e6
    sov_params = sum(p.numel() for p in engine.sovits.model.parameters()) / 1e6
    print(
        f"bench.inference: full-size v2, random weights (GPT {gpt_params:.1f} M, SoVITS {sov_params:.1f} M), "
        f"{engine.device}, {str(engine.dtype).removeprefix('torch.')}, {torch.get_num_threads()} threads"
    )
    print(
        f"text: {len(TEXT[: args.text_chars])} characters, {args.cut}: {len(result.segments)} segments "
        f"x {args.tokens} tokens = {n_tokens} tokens, {result.duration:.1f} s of audio; batch size "
        f"{args.batch_size}: {work['passes']} GPT passes over the weights"
    )
    print(
        f"floors: read bandwidth median {bw / 1e9:.1f} GB/s, best {max(bws) / 1e9:.1f} "
        f"(samples before {' '.join(f'{b / 1e9:.0f}' for b in before[0])}, after "
        f"{' '.join(f'{b / 1e9:.0f}' for b in after[0])}); matmul median {rate / 1e9:.0f} GFLOP/s, best "
        f"{max(rates) / 1e9:.0f}; SoVITS {counted['sovits_flops'] / 1e9 / (n_tokens / 25):.1f} GFLOP per "
        "audio second"
    )
    print(
        f"work: {work['bert']} BERT positions, {work['prefill']} GPT prefill positions "
        f"({work['prefill'] / len(result.segments):.0f} per segment: prompt phonemes + segment phonemes + "
        "prompt tokens)"
    )
    print(f"{'stage':<10}{'time s':>9}{'floor s':>9}{'ratio':>7}   (floors at the median samples)")
    ratio = f"{t['frontend'] / floor['frontend']:>7.2f}" if floor["frontend"] else f"{'-':>7}"
    print(f"{'frontend':<10}{t['frontend']:>9.2f}{floor['frontend']:>9.2f}{ratio}   (text + BERT-large)")
    print(
        f"{'gpt':<10}{t['gpt']:>9.2f}{floor['gpt']:>9.2f}{t['gpt'] / floor['gpt']:>7.2f}   "
        f"({1000 * t['gpt'] / n_tokens:.1f} ms/token, floor {1000 * floor['gpt'] / n_tokens:.1f}; of it "
        f"prefill {counted['prefill_flops'] / rate:.2f} s)"
    )
    print(f"{'sovits':<10}{t['sovits']:>9.2f}{floor['sovits']:>9.2f}{t['sovits'] / floor['sovits']:>7.2f}")
    low = sum(floor.values())
    print(
        f"{'total':<10}{total:>9.2f}{low:>9.2f}{total / low:>7.2f}   RTF {total / result.duration:.3f} "
        f"(floor RTF {low / result.duration:.3f})"
    )
    print(
        "against the best samples: "
        + ", ".join(f"{k} {t[k] / v:.2f}" for k, v in best.items() if v)
        + f", total {total / sum(best.values()):.2f}"
    )
    print(f"reference (HuBERT + latent + spectrogram, cached per file afterwards): {ref_s:.2f} s")
    print(f"streaming (mode 3, 16-token chunks): first audio chunk after {first_chunk:.2f} s")


if __name__ == "__main__":
    raise SystemExit(main())
