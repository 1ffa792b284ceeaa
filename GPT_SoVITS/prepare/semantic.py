"""Formatting stage 3: semantic codes from the pretrained SoVITS quantizer -> 6-name2semantic.tsv.

``python -m GPT_SoVITS.prepare.semantic --exp logs/<exp> --pretrained-sovits FILE [--list x.list]
[--part i/n]``

As the official 3-get-semantic.py: ``extract_latent`` of each 4-cnhubert/<name>.pt, first quantizer,
first batch item. Items come from the .list when given, else from 4-cnhubert/; clips the hubert stage
dropped are skipped. Part files ``6-name2semantic-<i>.tsv`` are merged (with the official header) once all
parts exist. Resumable: items already in 6-name2semantic.tsv are kept.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from GPT_SoVITS import paths
from GPT_SoVITS.data.experiment import (
    Experiment,
    ExperimentError,
    item_name,
    read_name2semantic,
    write_name2semantic,
)
from GPT_SoVITS.prepare.common import final_report, load_entries, merge_parts, prepare_main, prepare_parser
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.stage import StageError, require_file, resolve_device_args

log = logging.getLogger(__name__)
STAGE = "prepare.semantic"


def _load_model(path: Path, device: torch.device):
    require_file(path, "--pretrained-sovits")
    from GPT_SoVITS.checkpoints import CheckpointError
    from GPT_SoVITS.models.sovits import load_sovits_model

    try:
        return load_sovits_model(path, device=device)
    except (CheckpointError, ValueError, KeyError) as e:
        raise StageError(f"--pretrained-sovits {path}: {e}", field="--pretrained-sovits") from e


def _previous(exp: Experiment, part: int) -> dict[str, list[int]]:
    done: dict[str, list[int]] = {}
    for path in (exp.name2semantic, exp.semantic_part(part)):
        if path.is_file():
            try:
                done.update(read_name2semantic(path))
            except ExperimentError as e:
                log.warning("%s; recomputing", e)
    return done


@torch.inference_mode()
def codes_of(model, ssl: torch.Tensor, device: torch.device, dtype: torch.dtype) -> list[int]:
    """ssl [1, 768, F] -> the F//2 codes of the first quantizer (25 Hz)."""
    ssl = ssl.to(device=device, dtype=torch.float32)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
        codes = model.extract_latent(ssl)  # (n_q, B, T)
    return [int(c) for c in codes[0, 0].tolist()]


def process(args: argparse.Namespace, progress: ProgressLog) -> tuple[str, bool]:
    exp = Experiment(args.exp)
    entries = load_entries(args.list, args.audio_root)
    dropped = exp.read_dropped()
    if entries is not None:
        names = [item_name(e.path) for e in entries]
    else:
        names = sorted(exp.hubert_names())
        if not names:
            raise StageError(f"{exp.hubert_dir}: no features; run python -m GPT_SoVITS.prepare.hubert first")
    names = [nm for nm in names if nm not in dropped]
    i, n = args.part
    mine = names[i::n]
    device, dtype = resolve_device_args(args)
    done = _previous(exp, i)
    todo = [nm for nm in mine if nm not in done]
    missing = [nm for nm in todo if not exp.hubert_path(nm).is_file()]
    if missing:
        raise StageError(
            f"{len(missing)} item(s) have no {paths.HUBERT_DIR} features (run prepare.hubert): "
            + ", ".join(missing[:10])
        )
    progress.write("start", stage=STAGE, total=len(mine), part=f"{i}/{n}", todo=len(todo))
    model = _load_model(args.pretrained_sovits, device) if todo else None
    result = {nm: done[nm] for nm in mine if nm in done}
    for k, name in enumerate(todo, start=len(mine) - len(todo) + 1):
        ssl = torch.load(exp.hubert_path(name), map_location="cpu", weights_only=True)
        result[name] = codes_of(model, ssl, device, dtype)
        progress.write("item", done=k, total=len(mine), name=name)
    # a part file carries no header (official), the merged file does
    write_name2semantic(exp.semantic_part(i), {nm: result[nm] for nm in mine})

    def merge(parts: list[Path]) -> None:
        merged: dict[str, list[int]] = {}
        for p in parts:
            merged.update(read_name2semantic(p))
        write_name2semantic(exp.name2semantic, {nm: merged[nm] for nm in names if nm in merged})

    summary = f"{STAGE}: part {i}/{n}: {len(todo)} item(s) encoded, {len(mine) - len(todo)} already done"
    if merge_parts(exp, n, exp.semantic_part, merge):
        report = final_report(exp, "semantic", None)
        summary += f"; {paths.NAME2SEMANTIC} has {report.counts.get('semantic', 0)} item(s)"
    else:
        summary += "; waiting for the other parts before merging"
    return summary, True


def build_parser() -> argparse.ArgumentParser:
    p = prepare_parser("GPT_SoVITS.prepare.semantic", __doc__, list_required=False)
    p.add_argument(
        "--pretrained-sovits",
        type=Path,
        default=paths.PRETRAINED_DIR / "gsv-v2final-pretrained" / "s2G2333k.pth",
        help="SoVITS weights whose quantizer makes the codes (the pretrained s2G)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    return prepare_main(STAGE, build_parser(), process, argv)


if __name__ == "__main__":
    raise SystemExit(main())
