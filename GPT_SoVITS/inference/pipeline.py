"""One request through the models: references -> segments -> GPT tokens (guarded) -> SoVITS audio.

A Pipeline is created per request and holds everything request-specific (the model snapshot, seeded
generators, prepared references), so concurrent requests share nothing mutable.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from GPT_SoVITS.inference.guard import badness, check_tokens, retry_seed
from GPT_SoVITS.inference.postprocess import limit_peak
from GPT_SoVITS.inference.request import RequestError, TTSRequest, check_model_support
from GPT_SoVITS.inference.results import AudioChunk, EngineError, SegmentReport, SynthesisResult
from GPT_SoVITS.inference.segments import Phonemes, make_batches, prompt_with_stop, split_text
from GPT_SoVITS.inference.streaming import ChunkStitcher, chunk_tokens

log = logging.getLogger(__name__)

TOKENS_PER_SECOND = 25  # semantic tokens per second of audio (25 Hz codes)


@dataclass
class Attempt:
    tokens: list[int]
    seed: int
    hit_limit: bool


class Pipeline:
    def __init__(self, engine, request: TTSRequest) -> None:
        self.engine = engine
        self.req = request
        self.gpt, self.sovits = engine.gpt, engine.sovits  # snapshot: a weight switch mid-request is ignored
        self.device, self.dtype = engine.device, engine.dtype
        self.backend = engine.gpt_backend  # how the GPT's layers run, chosen once by the engine
        self.seed = request.seed if request.seed != -1 else random.SystemRandom().randrange(2**32)
        self.notes: list[str] = []
        self.timings = {"reference": 0.0, "frontend": 0.0, "gpt": 0.0, "sovits": 0.0}

    # -- preparation -----------------------------------------------------------------------------------
    def _check_request(self) -> None:
        """Fields the loaded models cannot honour: languages of the symbol table, version-only fields."""
        check_model_support(self.req, self.sovits.version)
        langs = self.engine.languages
        if self.req.text_lang not in langs:
            raise RequestError(
                "text_lang",
                f"{self.req.text_lang!r} is not supported by a "
                f"{self.sovits.symbol_version} model (supported: {', '.join(langs)})",
            )
        if self.req.uses_prompt and self.req.prompt_lang not in langs:
            raise RequestError(
                "prompt_lang",
                f"{self.req.prompt_lang!r} is not supported by a "
                f"{self.sovits.symbol_version} model (supported: {', '.join(langs)})",
            )

    def prepare(self) -> list[str]:
        """References and prompt (fills self.specs / self.prompt); returns the text pieces to speak."""
        self._check_request()
        t0 = time.perf_counter()
        main = self.engine.prepare_reference(self.req.ref_audio_path, self.sovits)
        aux = [self.engine.prepare_reference(p, self.sovits) for p in self.req.aux_ref_audio_paths]
        if main.window.note:
            self.notes.append(main.window.note)
        self.specs = [r.spec.to(self.device, self.dtype) for r in [main, *aux]]
        # v2Pro/v2ProPlus: the SV embedding of each reference, parallel to specs
        self.svs = (
            [r.sv_emb.to(self.device, self.dtype) for r in [main, *aux]] if main.sv_emb is not None else None
        )
        t1 = time.perf_counter()
        self.prompt: Phonemes | None = None
        self.prompt_codes: torch.Tensor | None = None
        if self.req.uses_prompt and main.window.cropped:
            self.notes.append(
                "prompt_text describes the whole reference, not the chosen window: "
                "decoding reference-free (give a 3-10 s clip to use the prompt)"
            )
        elif self.req.uses_prompt:
            text = prompt_with_stop(self.req.prompt_text, self.req.prompt_lang)
            self.prompt = self.engine.prompt_phonemes(text, self.req.prompt_lang, self.sovits.symbol_version)
            self.prompt_codes = main.prompt_codes.to(self.device)[None]  # (1, P)
        self.mel_wav = main.mel_wav
        if self.sovits.cfm is not None:
            self._check_cfm()
        pieces = split_text(self.req.text, self.req.text_split_method, self.req.text_lang)
        self.timings["reference"] += t1 - t0
        self.timings["frontend"] += time.perf_counter() - t1
        return pieces

    def _check_cfm(self) -> None:
        from GPT_SoVITS.inference.cfm_stage import PROMPT_REQUIRED, SUPER_SAMPLING_NOTE

        if self.prompt is None:
            raise RequestError("prompt_text", PROMPT_REQUIRED)
        if self.req.super_sampling and self.sovits.version == "v3":
            self.notes.append(SUPER_SAMPLING_NOTE)

    def segments(self, pieces: list[str], streaming: bool = False) -> Iterator[Phonemes]:
        """Frontend of the pieces, lazily; phoneme-less pieces are skipped.

        BERT runs batched over a group of pieces (one pass over its weights per group): all pieces at
        once, or when ``streaming`` the first two (the first chunk waits for both: the stream looks one
        segment ahead) and then the rest.
        """
        frontend = self.engine.frontend(self.sovits.symbol_version)
        groups = [pieces[:2], pieces[2:]] if streaming else [pieces]
        found = False
        for group in groups:
            if not group:
                continue
            t0 = time.perf_counter()
            done = frontend.many(group, self.req.text_lang)
            self.timings["frontend"] += time.perf_counter() - t0
            for seg in done:
                if len(seg):
                    found = True
                    yield seg
        if not found:
            raise RequestError("text", "no speakable text (the frontend found no phonemes)")

    def _gpt_inputs(self, seg: Phonemes) -> tuple[torch.Tensor, torch.Tensor]:
        """Phoneme ids (N,) and BERT features (1024, N) of prompt + segment, on the device."""
        ids = (self.prompt.ids if self.prompt else ()) + seg.ids
        bert = torch.cat([self.prompt.bert, seg.bert], 1) if self.prompt else seg.bert
        return torch.tensor(ids, dtype=torch.long, device=self.device), bert.to(self.device, self.dtype)

    def _generator(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(seed)

    def _limits(self, seg: Phonemes) -> int:
        """Most tokens a segment may get: the official 50 x max_sec, capped by the guard's plausible limit."""
        return min(50 * self.gpt.max_sec, self.engine.guard.token_limit(len(seg)))

    # -- GPT -------------------------------------------------------------------------------------------
    def _tokens(self, seg: Phonemes, gen: torch.Generator) -> Iterator[int]:
        """The kept semantic tokens of one segment, as decided (the request's sampling and limits)."""
        from GPT_SoVITS.models.gpt.decode import DecodeLimits, iter_tokens

        x, bert = self._gpt_inputs(seg)
        limit = self._limits(seg)
        limits = DecodeLimits(early_stop_num=limit, max_steps=limit + 1)
        return iter_tokens(
            self.gpt.model,
            x[None],
            self.prompt_codes,
            bert[None],
            self.req.sampling,
            limits,
            self.backend,
            gen,
        )

    def _decode_one(self, seg: Phonemes, seed: int, gen: torch.Generator | None = None) -> Attempt:
        tokens = list(self._tokens(seg, gen if gen is not None else self._generator(seed)))
        return Attempt(tokens, seed, len(tokens) > self._limits(seg))

    def _decode_batch(self, segs: list[Phonemes], seed: int) -> list[Attempt]:
        if len(segs) == 1 or self.prompt_codes is None:
            gen = self._generator(seed)  # one generator across the items keeps the batch reproducible
            return [self._decode_one(seg, seed, gen) for seg in segs]
        from GPT_SoVITS.models.gpt.decode import DecodeLimits, infer_batch

        inputs = [self._gpt_inputs(s) for s in segs]
        limit = max(self._limits(s) for s in segs)
        prompts = self.prompt_codes.expand(len(segs), -1)
        ys, _ = infer_batch(
            self.gpt.model,
            [x for x, _ in inputs],
            prompts,
            [b for _, b in inputs],
            self.req.sampling,
            DecodeLimits(early_stop_num=limit, max_steps=limit + 1),
            self.backend,
            self._generator(seed),
        )
        p = prompts.shape[1]
        out = []
        for seg, y in zip(segs, ys, strict=True):
            tokens = [int(t) for t in y[p:].tolist()]
            out.append(Attempt(tokens, seed, len(tokens) >= self._limits(seg)))
        return out

    def _guarded(self, index: int, seg: Phonemes, first: Attempt) -> tuple[Attempt, SegmentReport]:
        """Keep ``first`` if plausible, else regenerate with other seeds up to max_retries times."""
        cfg = self.engine.guard
        attempts, reasons = [first], []
        verdict = check_tokens(first.tokens, len(seg), cfg, first.hit_limit)
        while not verdict.ok and len(attempts) <= self.req.max_retries:
            reasons.append(verdict.reason)
            attempt = self._decode_one(seg, retry_seed(self.seed + index, len(attempts)))
            attempts.append(attempt)
            verdict = check_tokens(attempt.tokens, len(seg), cfg, attempt.hit_limit)
        if not verdict.ok:
            reasons.append(verdict.reason)
            kept = min(attempts, key=lambda a: badness(a.tokens, len(seg), cfg))
            log.warning(
                "segment %d failed the guard %d times; keeping the least bad attempt", index, len(attempts)
            )
        else:
            kept = attempts[-1]
        report = SegmentReport(
            index, seg.text, len(seg), len(kept.tokens), kept.seed, len(attempts) - 1, reasons, verdict.ok
        )
        return kept, report

    def decode_segments(self, segments: list[Phonemes]) -> list[tuple[Attempt, SegmentReport]]:
        t0 = time.perf_counter()
        r = self.req
        parallel = r.parallel_infer and r.batch_size > 1
        batches = make_batches(
            [len(s) for s in segments],
            r.batch_size if parallel else 1,
            r.batch_threshold,
            r.split_bucket and parallel,
        )
        results: list[tuple[Attempt, SegmentReport] | None] = [None] * len(segments)
        for b, indices in enumerate(batches):
            attempts = self._decode_batch([segments[i] for i in indices], retry_seed(self.seed, 0) + b)
            for i, attempt in zip(indices, attempts, strict=True):
                results[i] = self._guarded(i, segments[i], attempt)
        self.timings["gpt"] += time.perf_counter() - t0
        return [r for r in results if r is not None]

    # -- SoVITS ----------------------------------------------------------------------------------------
    @torch.inference_mode()
    def render(self, tokens: list[int], seg: Phonemes, noise_seed: int) -> np.ndarray:
        """SoVITS decode of ``tokens`` (25 Hz) conditioned on ``seg``'s phonemes -> float32 audio."""
        t0 = time.perf_counter()
        if not tokens:
            tokens = [0]  # official: never decode an empty sequence
        if self.sovits.cfm is not None:
            return self._render_cfm(tokens, seg, noise_seed, t0)
        codes = torch.tensor(tokens, dtype=torch.long, device=self.device)[None, None]  # (n_q=1, B=1, T)
        text = torch.tensor(seg.ids, dtype=torch.long, device=self.device)[None]
        frames = 2 * len(tokens)  # 25 Hz tokens -> 50 Hz frames
        speed = float(self.req.speed_factor)
        if speed != 1.0:
            frames = int(frames / speed) + 1  # the encoder's length regulator
        noise = torch.randn(
            (1, self.sovits.inter_channels, frames),
            generator=self._generator(noise_seed),
            device=self.device,
            dtype=self.dtype,
        )
        wav = self.sovits.model.decode(
            codes, text, self.specs, noise_scale=0.5, speed=speed, noise=noise, sv_emb=self.svs
        )
        self.timings["sovits"] += time.perf_counter() - t0
        return limit_peak(wav[0, 0].float().cpu().numpy())

    def _render_cfm(self, tokens: list[int], seg: Phonemes, noise_seed: int, t0: float) -> np.ndarray:
        """v3/v4: CFM mel continuation of the reference + vocoder (official using_vocoder_synthesis)."""
        from GPT_SoVITS.inference.cfm_stage import render_cfm

        assert self.prompt is not None and self.prompt_codes is not None  # checked in prepare()
        audio = render_cfm(
            self.sovits.model, self.sovits.cfm, self.prompt_codes[0], self.prompt.ids, self.specs[0],
            self.mel_wav, tokens, seg.ids, float(self.req.speed_factor), int(self.req.sample_steps),
            self._generator(noise_seed),
        )  # fmt: skip
        self.timings["sovits"] += time.perf_counter() - t0
        return limit_peak(audio)

    def _silence(self) -> np.ndarray:
        return np.zeros(int(self.sovits.output_rate * self.req.fragment_interval), np.float32)

    # -- entry points ----------------------------------------------------------------------------------
    def run(self) -> SynthesisResult:
        segments = list(self.segments(self.prepare()))
        pieces, reports = [], []
        for seg, (attempt, report) in zip(segments, self.decode_segments(segments), strict=True):
            pieces += [self.render(attempt.tokens, seg, attempt.seed), self._silence()]
            reports.append(report)
        audio = np.concatenate(pieces).astype(np.float32)
        return SynthesisResult(self.sovits.output_rate, audio, self.seed, reports, self.notes, self.timings)

    def stream(self) -> Iterator[AudioChunk]:
        """Chunks per segment; the first segment's frontend runs before anything is yielded, so bad input
        fails before a response starts. The last chunk of the request has ``final`` set."""
        segments = self.segments(self.prepare(), streaming=True)
        sr = self.sovits.output_rate
        seg = next(segments)
        i = 0
        while seg is not None:
            following = next(segments, None)
            last = following is None
            if self.req.stream_kind == "token":
                yield from self._stream_tokens(i, seg, last)
                seg, i = following, i + 1
                continue
            attempt, report = self._guarded(i, seg, self._decode_one(seg, retry_seed(self.seed, 0) + i))
            audio = np.concatenate([self.render(attempt.tokens, seg, attempt.seed), self._silence()])
            yield AudioChunk(sr, audio, i, last, report)
            seg, i = following, i + 1

    def _stream_tokens(self, index: int, seg: Phonemes, last: bool) -> Iterator[AudioChunk]:
        """Token-chunk streaming of one segment. The guard only reports here: audio already sent cannot be
        regenerated, but the token limit still stops a runaway segment."""
        r, sr = self.req, self.sovits.output_rate
        limit = self._limits(seg)
        seed = retry_seed(self.seed, 0) + index
        tokens_out: list[int] = []

        def tracked() -> Iterator[int]:
            t0 = time.perf_counter()
            for t in self._tokens(seg, self._generator(seed)):
                self.timings["gpt"] += time.perf_counter() - t0
                tokens_out.append(t)
                yield t
                t0 = time.perf_counter()

        sim = self.gpt.mute_similarity
        split_ok = (lambda t: float(sim[t]) > 0.0) if int(r.streaming_mode) == 2 else None
        stitcher = ChunkStitcher()
        for chunk in chunk_tokens(tracked(), r.min_chunk_length, r.overlap_length, split_ok):
            if not chunk.tokens:
                audio = stitcher.flush()
            else:
                rendered = self.render(chunk.tokens, seg, seed)
                audio = stitcher.push(rendered, len(chunk.tokens), chunk.head, r.overlap_length, chunk.final)
            if chunk.final:
                verdict = check_tokens(tokens_out, len(seg), self.engine.guard, len(tokens_out) > limit)
                report = SegmentReport(
                    index,
                    seg.text,
                    len(seg),
                    len(tokens_out),
                    seed,
                    0,
                    [] if verdict.ok else [verdict.reason],
                    verdict.ok,
                )
                yield AudioChunk(sr, np.concatenate([audio, self._silence()]), index, last, report)
            else:
                yield AudioChunk(sr, audio, index, False)


__all__ = ["EngineError", "Pipeline"]
