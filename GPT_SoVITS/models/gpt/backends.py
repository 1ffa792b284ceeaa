"""Decoding backends: how a prefill and a per-token step run through the layers. Chosen once, passed down.

A backend is a small object with two methods (:class:`DecodeBackend`); the decoding loops of ``decode``
call them and know nothing else about how the layers run. The entry point (engine constructor, CLI flag
``--gpt-backend auto|torch|numpy``) picks one with :func:`choose_backend` and passes it to every call; no
module switch selects a path. Backends hold no per-run state (caches are per run), so one backend object
serves any number of concurrent decodes.

- :class:`TorchBackend`: the prefill runs the reference layers (``model.h``); the step runs the TorchScript
  function of ``fastpath`` (any device and dtype, optionally with bf16/fp16 matrices).
- :class:`NumpyBackend`: float32 on CPU; both run ``numpy_step.numpy_layers`` on arrays sharing memory
  with the model and the cache, the embedding row and the output product too. The numba kernels
  accelerate it where numba loads (``kernels.load()``), plain numpy otherwise.

Threads: no backend changes torch's thread setting (a process-wide value: switching it per token made two
decoders in one process fight over it). The process sets it once (torch's default, or a ``--threads``
flag where an entry point has one). The numpy backend runs no torch op inside its layers, so torch's
OpenMP threads never wait for a core OpenBLAS's workers are spinning on; the torch backend's opt-in
bf16/fp16 CPU step runs with the process's threads (it used to switch to one thread per token).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from GPT_SoVITS.models.gpt import kernels
from GPT_SoVITS.models.gpt.cache import KVCache
from GPT_SoVITS.models.gpt.fastpath import PRECISIONS, decode_layers, step_weights
from GPT_SoVITS.models.gpt.model import Text2SemanticDecoder
from GPT_SoVITS.models.gpt.numpy_step import numpy_layers

BACKENDS = ("auto", "torch", "numpy")


class DecodeBackend(Protocol):
    """Runs the layers for decoding; both methods append to ``cache`` and advance it."""

    name: str

    def prefill(
        self, model: Text2SemanticDecoder, xy: torch.Tensor, mask: torch.Tensor | None, cache: KVCache
    ) -> torch.Tensor:
        """xy (B, T, E) embedded positions, mask bool broadcastable to (B, H, T, cache.length + T), True =
        may attend -> hidden states (B, T, D)."""
        ...

    def step(
        self,
        model: Text2SemanticDecoder,
        token: torch.Tensor,
        position: int,
        cache: KVCache,
        key_ok: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """tokens (B, 1) at audio position ``position`` -> the next logits (B, V) float32. key_ok: (B, >=
        cache.length + 1) bool, False for keys no query may see (left padding), or None."""
        ...


def _check_room(cache: KVCache, new: int) -> int:
    """The cache position the new keys go to; raises when ``new`` more do not fit."""
    pos = cache.length
    if pos + new > cache.max_len:
        raise RuntimeError(f"KV cache full: {pos + new} positions needed, {cache.max_len} allocated")
    return pos


class TorchBackend:
    """Reference layers for the prefill, the TorchScript step of ``fastpath`` per token."""

    name = "torch"

    def __init__(self, precision: str = "fp32") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
        self.precision = precision  # the step's matrices: "fp32" = the model's dtype, or bf16/fp16 copies

    def prefill(self, model, xy, mask, cache):
        _check_room(cache, xy.shape[1])
        return model.h(xy, mask, cache)

    def step(self, model, token, position, cache, key_ok=None):
        w = step_weights(model.h, self.precision)
        x = model.embed_audio(token, start=position)[:, 0]  # (B, E)
        pos = _check_room(cache, 1)
        mask = None if key_ok is None else key_ok[:, None, None, : pos + 1]
        x = decode_layers()(x, cache.k, cache.v, pos, w.heads, w.tensors, w.eps, mask, w.lowp)
        cache.advance(1)
        return model.logits(x)


class NumpyBackend:
    """float32 CPU layers in numpy (``numpy_step``), with the numba kernels where they load."""

    name = "numpy"

    def __init__(self, use_numba: bool = True) -> None:
        self.kernels = kernels.load() if use_numba else None  # None: plain numpy, the same math

    def prefill(self, model, xy, mask, cache):
        w = self._weights(model)
        pos = _check_room(cache, xy.shape[1])
        ok = None if mask is None else mask.detach().numpy()
        k, v = cache.k.detach().numpy(), cache.v.detach().numpy()
        out = numpy_layers(xy.detach().numpy(), k, v, pos, w.arrays, w.eps, ok, self.kernels)
        cache.advance(xy.shape[1])
        return torch.from_numpy(out)

    def step(self, model, token, position, cache, key_ok=None):
        w = self._weights(model)
        table, pe, alpha, proj = head_arrays(model)
        if position >= pe.shape[0]:
            raise ValueError(
                f"sequence position {position + 1} exceeds the {pe.shape[0]}-row positional table"
            )
        x = table[token.numpy()[:, 0]]  # a row gather: the audio embedding
        x += alpha * pe[position]  # official order: x + alpha * pe (dropout is the identity in eval)
        pos = _check_room(cache, 1)
        ok = None if key_ok is None else key_ok[:, None, None, : pos + 1].detach().numpy()
        k, v = cache.k.detach().numpy(), cache.v.detach().numpy()
        hidden = numpy_layers(x[:, None], k, v, pos, w.arrays, w.eps, ok, self.kernels)[:, 0]
        cache.advance(1)
        return torch.from_numpy(hidden @ proj)

    @staticmethod
    def _weights(model: Text2SemanticDecoder):
        w = step_weights(model.h)
        if w.arrays is None:
            p = model.ar_predict_layer.weight
            raise ValueError(f"the numpy GPT backend needs a float32 CPU model, not {p.dtype} on {p.device}")
        return w


def head_arrays(model: Text2SemanticDecoder) -> tuple[np.ndarray, np.ndarray, np.float32, np.ndarray]:
    """(audio embedding table, positional table, alpha, output matrix (in, out) copy) as float32 arrays
    for the numpy step, made on first use and kept with the model until a parameter changes."""
    w = model.ar_predict_layer.weight
    table = model.ar_audio_embedding.word_embeddings.weight
    alpha = model.ar_audio_position.alpha
    key = tuple((t.data_ptr(), t._version) for t in (w, table, alpha))
    kept = model.__dict__.get("_head_arrays")  # a plain attribute: not in state_dict
    if kept is None or kept[0] != key:
        with torch.no_grad():
            arrays = (
                table.detach().numpy(),
                model.ar_audio_position.pe.numpy(),
                np.float32(alpha.detach().item()),
                w.detach().t().contiguous().numpy(),
            )
        kept = model.__dict__["_head_arrays"] = (key, arrays)
    return kept[1]


def choose_backend(
    name: str, device: torch.device, dtype: torch.dtype = torch.float32, precision: str = "fp32"
) -> DecodeBackend:
    """The backend for ``--gpt-backend``: "auto" is numpy for a float32 model on CPU with fp32 steps (the
    fastest there), torch otherwise. "numpy" elsewhere raises ValueError naming the flag."""
    if name not in BACKENDS:
        raise ValueError(f"--gpt-backend: {name!r} is not one of {', '.join(BACKENDS)}")
    numpy_ok = torch.device(device).type == "cpu" and dtype == torch.float32 and precision == "fp32"
    if name == "numpy" and not numpy_ok:
        raise ValueError(
            f"--gpt-backend numpy: needs a float32 model on CPU with fp32 steps "
            f"(got {dtype}, {device}, {precision}); use auto or torch"
        )
    if name == "numpy" or (name == "auto" and numpy_ok):
        return NumpyBackend()
    return TorchBackend(precision)
