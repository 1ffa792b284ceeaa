"""What a path field offers to pick: files and folders that exist under the working folder, newest first.

Every path field of the WebUI is a ``gr.Dropdown(allow_custom_value=True)`` whose choices come from
:func:`path_choices` (a typed path is still accepted), or has a default value; ``tests/webui`` checks it.
"""

from __future__ import annotations

from pathlib import Path

from GPT_SoVITS import pretrained

# A form field takes a path when its stage value kind is one of these, or its elem_id is listed in
# ``PATH_FIELDS`` (hand-built fields).
PATH_KINDS = ("file_in", "dir_in", "path_in", "path_out")


def _newest(paths: list[Path]) -> list[str]:
    return [str(p) for p in sorted(paths, key=lambda p: p.stat().st_mtime, reverse=True)]


def list_files(root: Path) -> list[str]:
    """``.list`` files under ``output/`` (any depth), newest first."""
    out = root / "output"
    return _newest([p for p in out.rglob("*.list") if p.is_file()]) if out.is_dir() else []


def output_folders(root: Path) -> list[str]:
    """Folders directly under ``output/`` (the stages' output folders), newest first."""
    out = root / "output"
    return _newest([p for p in out.iterdir() if p.is_dir()]) if out.is_dir() else []


def experiment_folders(root: Path) -> list[str]:
    """``logs/<exp>`` folders (the job runner's own folder left out), newest first."""
    logs = root / "logs"
    if not logs.is_dir():
        return []
    return _newest([p for p in logs.iterdir() if p.is_dir() and p.name != "webui-jobs"])


def weight_files(root: Path, kind: str) -> list[str]:
    """SoVITS (``kind="sovits"``, .pth) or GPT (``"gpt"``, .ckpt) weights under ``SoVITS_weights*/`` or
    ``GPT_weights*/``, newest first."""
    prefix, suffix = ("SoVITS_weights", ".pth") if kind == "sovits" else ("GPT_weights", ".ckpt")
    return _newest([p for d in root.glob(f"{prefix}*") if d.is_dir() for p in d.glob(f"*{suffix}")])


def newest_weight(root: Path, kind: str, version: str) -> str:
    """The newest trained weight of ``kind`` (sovits or gpt), else the version's pretrained one, else ""."""
    trained = weight_files(root, kind)
    if trained:
        return trained[0]
    return pretrained_paths(root, version)["sovits_g" if kind == "sovits" else "gpt"]


def pretrained_paths(root: Path, version: str) -> dict[str, str]:
    """The version's pretrained files under ``<root>/pretrained_models`` by field key (sovits_g, sovits_d,
    gpt, bert, hubert); a file or folder that is absent, or that the version does not have, maps to ""."""
    base = root / "pretrained_models"
    files = pretrained.VERSIONS[version]
    rel = {
        "sovits_g": files.sovits_g,
        "sovits_d": files.sovits_d,
        "gpt": files.gpt,
        "bert": str(Path(pretrained.BERT[0]).parent),
        "hubert": str(Path(pretrained.HUBERT[0]).parent),
    }
    return {k: str(base / r) if r and (base / r).exists() else "" for k, r in rel.items()}


def pretrained_note(root: Path, version: str, missing_text: str) -> str:
    """Markdown: empty when every file of ``version`` is present, else ``missing_text`` and the files."""
    gone = pretrained.missing(root / "pretrained_models", version)
    if not gone:
        return ""
    return f"⚠ **{missing_text}**\n\n" + "\n".join(f"- `{p}`" for p in gone[:12])


def path_choices(root: Path, key: str, kind: str) -> list[str]:
    """What a stage value ``key`` of ``kind`` offers: .list files for lists, experiments for ``exp``,
    weights (then the version-independent pretrained ones) for pretrained models, else output folders."""
    if key == "list":
        return list_files(root)
    if key == "exp":
        return experiment_folders(root)
    if key in ("pretrained_g", "pretrained_d", "pretrained_sovits"):
        return weight_files(root, "sovits")
    if key == "pretrained":
        return weight_files(root, "gpt")
    if kind in ("dir_in", "path_in", "path_out"):
        return output_folders(root)
    return []
