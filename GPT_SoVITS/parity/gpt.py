"""Parity group ``gpt``: teacher-forced logits and every decoding entry of the golden folder.

Inputs come from the files: the GPT checkpoint in ``models/`` (found by content), the arrays of
``gpt_teacher_forced.npz`` and ``gpt_decode_inputs.npz``, and per entry of ``gpt_decode.json`` the recorded
keyword arguments; the recorded function name chooses the path (kv-cache, legacy, batched).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from GPT_SoVITS.models.gpt import Text2SemanticDecoder, load_gpt_model
from GPT_SoVITS.models.gpt.backends import DecodeBackend, choose_backend
from GPT_SoVITS.models.gpt.model import attention_mask
from GPT_SoVITS.models.gpt.training import teacher_forced_logits
from GPT_SoVITS.parity.core import CaseResult, compare_arrays, compare_exact, find_model
from GPT_SoVITS.parity.hooks import infer_legacy, official_infer_batch, official_infer_panel

LOGIT_TOL = 1e-4  # float32 vs float64 differ by 1.2e-6 (README section 5)
EMBED_TOL = 1e-5  # embeddings before the transformer: a few float32 roundings
SEED = 0  # every golden run was started after torch.manual_seed(0)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def _teacher_forced(model: Text2SemanticDecoder, data: Any, group: str) -> list[CaseResult]:
    x, y, bert = _t(data["phoneme_ids"]), _t(data["semantic_ids"]), _t(data["bert_feature"]).float()
    nx, ny = x.shape[1], y.shape[1]
    with torch.inference_mode():
        logits, targets = teacher_forced_logits(model, x, torch.tensor([nx]), y, torch.tensor([ny]), bert)
        fast = _fast_path_logits(model, x, y, bert)
        embeds = {
            "bert_proj_out": model.bert_proj(bert.transpose(1, 2)),
            "x_pos": model.embed_text(x, bert),
            "y_pos": model.embed_audio(y),
        }
    rows = [compare_arrays(group, "logits", logits.numpy(), data["logits"], LOGIT_TOL)]
    if "logits_training_slice" in data.files:
        ours = logits[:, nx - 1 :].numpy()  # the last text row predicts the first code
        rows.append(
            compare_arrays(group, "logits_training_slice", ours, data["logits_training_slice"], LOGIT_TOL)
        )
    if "targets" in data.files:
        ours_t = torch.cat([y[:, :1], targets], dim=1)[0].tolist()  # codes then EOS
        rows.append(compare_exact(group, "targets", ours_t, data["targets"][0].tolist()))
    if "logits_fast_path" in data.files:
        rows.append(
            compare_arrays(group, "logits_fast_path", fast.numpy(), data["logits_fast_path"], LOGIT_TOL)
        )
    for name, ours_e in embeds.items():
        if name in data.files:
            rows.append(compare_arrays(group, name, ours_e.numpy(), data[name], EMBED_TOL))
    if "attn_mask_additive" in data.files:
        golden_blocked = np.isneginf(data["attn_mask_additive"])  # (heads, L, L)
        ours_blocked = ~attention_mask(nx, ny).numpy()[None]
        bad = int((golden_blocked != ours_blocked).sum()) + int(
            np.abs(data["attn_mask_additive"][~golden_blocked]).sum() > 0
        )
        rows.append(CaseResult(group, "attn_mask_additive", float(bad), 0.0, bad == 0))
    return rows


def _fast_path_logits(model: Text2SemanticDecoder, x, y, bert) -> torch.Tensor:
    """Logits of every position through the production decoding backend's prefill, (1, Nx + Ny, V)."""
    backend = choose_backend("auto", model.ar_predict_layer.weight.device)
    cache = model.new_cache(1, x.shape[1] + y.shape[1])
    xy = torch.cat([model.embed_text(x, bert), model.embed_audio(y)], dim=1)
    mask = attention_mask(x.shape[1], y.shape[1])[None, None]
    return model.logits(backend.prefill(model, xy, mask, cache))


def _single_inputs(
    inputs: Any, key: str, entry: dict
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    prefix = key.split("|", 1)[0]
    x = _t(inputs[f"{prefix}_phoneme_ids"])
    bert = _t(inputs[f"{prefix}_bert_feature"]).float()
    prompt = _t(inputs[f"{prefix}_prompt"]) if entry.get("prompt_len", 1) else None
    return x, bert, prompt


def _batch_inputs(
    inputs: Any, entry: dict
) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor | None]:
    n = len(entry["x_lens"])
    xs = [_t(inputs[f"batch_phoneme_ids_{j}"]) for j in range(n)]
    berts = [_t(inputs[f"batch_bert_feature_{j}"]).float() for j in range(n)]
    prompts = _t(inputs["batch_prompts"]) if "batch_prompts" in inputs.files else None
    return xs, berts, prompts


def _run_entry(
    model: Text2SemanticDecoder, backend: DecodeBackend, inputs: Any, key: str, entry: dict
) -> dict[str, Any]:
    """Our outputs under the golden field names (the recorded keyword arguments of the official call)."""
    fn, kwargs = entry["function"], dict(entry.get("kwargs", {}))
    torch.manual_seed(SEED)
    if "batch_infer" in fn or "naive_batched" in fn:
        xs, berts, prompts = _batch_inputs(inputs, entry)
        if "batch_infer" in fn:
            ys, idxs = official_infer_batch(model, xs, None, prompts, berts, **kwargs, backend=backend)
            y_list = [t.tolist() for t in ys]
        else:
            runs = []
            for j, (xi, bi) in enumerate(zip(xs, berts, strict=True)):
                prompt_j = None if prompts is None else prompts[j : j + 1]
                runs.append(
                    official_infer_panel(model, xi[None], None, prompt_j, bi[None], **kwargs, backend=backend)
                )
            y_list, idxs = [y[0].tolist() for y, _ in runs], [i for _, i in runs]
        return {
            "y_list": y_list,
            "idx_list": idxs,
            "tts_pred_semantic_list": [y[-i:] for y, i in zip(y_list, idxs, strict=True)],
        }
    x, bert, prompt = _single_inputs(inputs, key, entry)
    if "infer_panel" in fn:
        y, idx = official_infer_panel(model, x, None, prompt, bert, **kwargs, backend=backend)
        tokens = y[0].tolist()
        return {"y": tokens, "idx": idx, "webui_pred_semantic": tokens[-idx:]}
    if ".infer " in fn or fn.endswith(".infer"):
        return {"y": infer_legacy(model, x, None, prompt, bert, **kwargs)[0].tolist()}
    raise ValueError(f"gpt_decode.json entry {key!r}: unknown function {fn!r}")


def _decode(model: Text2SemanticDecoder, golden: Path, group: str) -> list[CaseResult]:
    entries = json.loads((golden / "gpt_decode.json").read_text(encoding="utf-8"))
    inputs = np.load(golden / "gpt_decode_inputs.npz")
    fields = ("y", "idx", "webui_pred_semantic", "y_list", "idx_list", "tts_pred_semantic_list")
    backend = choose_backend("auto", model.ar_predict_layer.weight.device)  # as the engine chooses
    rows = []
    for key, entry in entries.items():
        ours = _run_entry(model, backend, inputs, key, entry)
        for name in fields:
            if name in entry:
                if name not in ours:
                    rows.append(compare_exact(group, f"{key}.{name}", None, entry[name], "not produced"))
                else:
                    rows.append(compare_exact(group, f"{key}.{name}", ours[name], entry[name]))
    return rows


def run(golden: Path, group: str = "gpt") -> list[CaseResult]:
    model = load_gpt_model(find_model(golden, "gpt"), "cpu")
    rows = _teacher_forced(model, np.load(golden / "gpt_teacher_forced.npz"), group)
    return rows + _decode(model, golden, group)
