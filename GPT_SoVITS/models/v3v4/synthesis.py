"""v3/v4 synthesis as the official pipeline runs it (``TTS.using_vocoder_synthesis``).

prompt codes + phones + reference -> CFM conditioning of the prompt; reference mel (normalised) = the CFM
prompt; target conditioning cut into chunks; each chunk sampled by the CFM after the prompt, the next
prompt being the tail of the previous output; mels denormalised and vocoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from GPT_SoVITS.audio import mel_spectrogram_torch
from GPT_SoVITS.models.sovits.synthesizer_v3 import SynthesizerTrnV3
from GPT_SoVITS.models.v3v4.load import VocoderSpec
from GPT_SoVITS.versions import spec

SPEC_MIN, SPEC_MAX = -12.0, 2.0  # log-mel range mapped to [-1, 1] for the CFM
# The official WebUI's sample-steps choices and default per version (inference_webui).
SAMPLE_STEP_CHOICES = {"v3": (4, 8, 16, 32, 64, 128), "v4": (4, 8, 16, 32)}
DEFAULT_SAMPLE_STEPS = {"v3": 32, "v4": 8}


def norm_spec(x: torch.Tensor) -> torch.Tensor:
    return (x - SPEC_MIN) / (SPEC_MAX - SPEC_MIN) * 2 - 1


def denorm_spec(x: torch.Tensor) -> torch.Tensor:
    return (x + 1) / 2 * (SPEC_MAX - SPEC_MIN) + SPEC_MIN


def reference_mel(wav: torch.Tensor, version: str) -> torch.Tensor:
    """Raw log mel [1, 100, frames] of the mono reference [1, samples] at the version's mel rate
    (v3: 24 kHz, n_fft/win 1024, hop 256; v4: 32 kHz, 1280/320)."""
    m = spec(version).cfm_mel
    if m is None:
        raise ValueError(f"{version} has no CFM mel")
    return mel_spectrogram_torch(
        wav, m.n_fft, m.num_mels, m.sampling_rate, m.hop_size, m.win_size, m.fmin, m.fmax
    )


@dataclass
class V3V4Trace:
    """Intermediates of one synthesis (names as in the parity goldens)."""

    encp_prompt_fea: torch.Tensor | None = None
    encp_prompt_ge: torch.Tensor | None = None
    encp_target_fea: torch.Tensor | None = None
    mel_ref_raw: torch.Tensor | None = None
    chunks: list[dict[str, torch.Tensor]] = field(default_factory=list)
    vocoder_in_mel: torch.Tensor | None = None


@torch.no_grad()
def synthesize(
    model: SynthesizerTrnV3,
    vocoder: nn.Module,
    vspec: VocoderSpec,
    prompt_codes: torch.Tensor,
    prompt_phones: torch.Tensor,
    refer_spec: torch.Tensor,
    ref_wav_mel: torch.Tensor,
    target_codes: torch.Tensor,
    target_phones: torch.Tensor,
    sample_steps: int,
    speed: float = 1.0,
    noises: Sequence[torch.Tensor] | None = None,
    trace: V3V4Trace | None = None,
    velocity_trace: list[torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """-> audio [samples] at ``vspec.sr``.

    prompt_codes [Tp] (25 Hz), prompt_phones [Np], refer_spec [1, 1025, F] (32 kHz spectrogram),
    ref_wav_mel [samples] (mono reference at the mel rate: 24 kHz v3, 32 kHz v4), target_codes [1, 1, T],
    target_phones [1, N]. noises: the CFM start noise of each chunk (recorded draws), else drawn from
    ``generator`` (seeded requests), else from the global RNG.
    velocity_trace: gets the first chunk's per-step velocities.
    """
    version = model.version
    fea_ref, ge = model.decode_encp(prompt_codes.view(1, 1, -1), prompt_phones.view(1, -1), refer_spec)
    mel_raw = reference_mel(ref_wav_mel.view(1, -1).float(), version)
    mel2 = norm_spec(mel_raw).to(fea_ref.dtype)
    t_min = min(mel2.shape[2], fea_ref.shape[2])
    mel2, fea_ref = mel2[:, :, :t_min], fea_ref[:, :, :t_min]
    if t_min > vspec.t_ref:  # keep only the last T_ref frames of a long reference
        mel2, fea_ref = mel2[:, :, -vspec.t_ref :], fea_ref[:, :, -vspec.t_ref :]
        t_min = vspec.t_ref
    chunk_len = vspec.t_chunk - t_min
    fea_todo, ge = model.decode_encp(target_codes, target_phones, refer_spec, ge, speed)
    if trace is not None:
        trace.encp_target_fea, trace.mel_ref_raw = fea_todo, mel_raw
    outs = []
    for i, idx in enumerate(range(0, fea_todo.shape[-1], chunk_len)):
        chunk = fea_todo[:, :, idx : idx + chunk_len]
        fea = torch.cat([fea_ref, chunk], 2).transpose(2, 1)  # [1, T, 512]
        x_lens = torch.tensor([fea.size(1)], dtype=torch.long, device=fea.device)
        if noises is not None:
            noise = noises[i]
        else:
            shape = (1, model.cfm.in_channels, fea.size(1))
            noise = torch.randn(shape, generator=generator, device=fea.device, dtype=fea.dtype)
        steps = velocity_trace if i == 0 else None
        out = model.cfm.inference(fea, x_lens, mel2, sample_steps, noise=noise, trace=steps)
        if trace is not None:
            trace.chunks.append({"cfm_x_lens": x_lens, "cfm_prompt": mel2, "cfm_out": out})
        out = out[:, :, mel2.shape[2] :]
        mel2, fea_ref = out[:, :, -t_min:], chunk[:, :, -t_min:]
        outs.append(out)
    mel = denorm_spec(torch.cat(outs, 2))
    if trace is not None:
        trace.vocoder_in_mel = mel
    return vocoder(mel)[0][0]
