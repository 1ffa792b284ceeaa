"""Download pretrained files from a model hub (HuggingFace, a mirror, ModelScope): resumable, verified.

``python -m GPT_SoVITS.download --version v2 [--hub huggingface|hf-mirror|modelscope|URL] [--dest DIR]``
fetches every missing file of the version into ``pretrained_models/`` (the hub repository's layout). The
hub's file listing gives each file's size and checksum (sha256 of LFS files, the git blob sha1 of small
ones); a file is written as ``<name>.part``, resumed with an HTTP Range request after an interruption, and
renamed into place only when its size and checksum match. Progress goes to ``<dest>/progress.jsonl``.
An unknown hub exits 2; a file the hub lacks or that fails verification, or a network error, exits 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from GPT_SoVITS import paths, pretrained
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.stage import StageError, StageFailure, stage_main, stage_parser
from GPT_SoVITS.versions import DEFAULT_VERSION, version_names

HUBS = {
    "huggingface": ("hf", "https://huggingface.co"),
    "hf-mirror": ("hf", "https://hf-mirror.com"),
    "modelscope": ("ms", "https://www.modelscope.cn"),
}
# The ModelScope copy used by the official install scripts packs the folder into one zip.
MODELSCOPE_REPO = "XXXXRT/GPT-SoVITS-Pretrained"
ARCHIVE = "pretrained_models.zip"
CHUNK = 1 << 20


class DownloadError(StageFailure):
    """A file could not be fetched or failed verification; names the file."""


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int | None
    sha256: str | None = None
    git_sha1: str | None = None  # git blob id of a small (non-LFS) file


def resolve_hub(hub: str) -> tuple[str, str]:
    """(api kind "hf" | "ms", base URL); ``hub`` is a known name or a URL of an HF-compatible mirror."""
    if hub in HUBS:
        return HUBS[hub]
    if hub.startswith(("http://", "https://")):
        return "hf", hub.rstrip("/")
    raise StageError(f"unknown hub {hub!r}; use one of {', '.join(HUBS)} or a mirror URL", field="--hub")


def list_remote(client: httpx.Client, kind: str, base: str, repo: str) -> dict[str, RemoteFile]:
    """Every file of the repository with its size and checksum, from the hub's listing API."""
    try:
        if kind == "hf":
            r = client.get(f"{base}/api/models/{repo}/tree/main", params={"recursive": "true"})
            r.raise_for_status()
            out = {}
            for item in r.json():
                if item.get("type") != "file":
                    continue
                lfs = item.get("lfs") or {}
                sha = lfs.get("sha256") or lfs.get("oid")
                out[item["path"]] = RemoteFile(
                    item["path"], item.get("size"), sha, None if lfs else item.get("oid")
                )
            return out
        r = client.get(
            f"{base}/api/v1/models/{repo}/repo/files", params={"Recursive": "true", "Revision": "master"}
        )
        r.raise_for_status()
        files = r.json().get("Data", {}).get("Files", [])
        return {
            f["Path"]: RemoteFile(f["Path"], f.get("Size"), f.get("Sha256"))
            for f in files
            if f.get("Type") != "tree"
        }
    except (httpx.HTTPError, ValueError, KeyError) as e:
        raise DownloadError(f"{base}: cannot list {repo} ({e})") from e


def file_url(kind: str, base: str, repo: str, path: str) -> str:
    if kind == "hf":
        return f"{base}/{repo}/resolve/main/{quote(path)}"
    return f"{base}/models/{repo}/resolve/master/{quote(path)}"


def _verify(path: Path, remote: RemoteFile) -> None:
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        raise DownloadError(f"{remote.path}: size {size} bytes, expected {remote.size}")
    if remote.sha256:
        h = hashlib.sha256()
    elif remote.git_sha1:
        h = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    else:
        return
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    expected = remote.sha256 or remote.git_sha1
    if h.hexdigest() != expected:
        raise DownloadError(f"{remote.path}: checksum {h.hexdigest()} does not match the hub's {expected}")


def fetch(
    client: httpx.Client,
    url: str,
    dest: Path,
    remote: RemoteFile,
    on_bytes: Callable[[int], None] | None = None,
) -> None:
    """Download ``url`` to ``dest`` via ``dest.part``, resuming a partial file; verified before the rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    if remote.size is not None and have > remote.size:
        part.unlink()
        have = 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with client.stream("GET", url, headers=headers, follow_redirects=True) as r:
            if r.status_code == 416:  # the part file is already complete
                pass
            elif r.status_code not in (200, 206):
                raise DownloadError(f"{remote.path}: HTTP {r.status_code} from {url}")
            else:
                mode = "ab" if r.status_code == 206 else "wb"  # 200: the server ignored Range, start over
                with part.open(mode) as f:
                    for block in r.iter_bytes():  # as it arrives: an interruption loses nothing received
                        f.write(block)
                        if on_bytes:
                            on_bytes(len(block))
    except httpx.HTTPError as e:
        raise DownloadError(f"{remote.path}: download interrupted ({e}); run again to resume") from e
    try:
        _verify(part, remote)
    except DownloadError:
        part.unlink(missing_ok=True)  # a corrupt part must not be resumed
        raise
    os.replace(part, dest)


def download(
    dest: Path, files: list[str], hub: str, repo: str | None = None, progress: ProgressLog | None = None
) -> list[str]:
    """Fetch ``files`` (hub paths) that are missing under ``dest``; returns those downloaded."""
    kind, base = resolve_hub(hub)
    repo = repo or (pretrained.HUB_REPO if kind == "hf" else MODELSCOPE_REPO)
    todo = [f for f in files if not (dest / f).is_file()]
    done: list[str] = []
    with httpx.Client(timeout=httpx.Timeout(60.0, read=300.0)) as client:
        listing = list_remote(client, kind, base, repo)
        absent = [f for f in todo if f not in listing]
        if absent and ARCHIVE not in listing:
            raise DownloadError(f"{repo} on {base} has no {', '.join(absent)}")
        direct = [f for f in todo if f in listing]
        total = len(direct) + (1 if absent else 0)
        if progress:
            progress.write("start", stage="download", total=total)
        for name in direct:
            fetch(client, file_url(kind, base, repo, name), dest / name, listing[name])
            done.append(name)
            if progress:
                progress.write("item", done=len(done), total=total, name=name)
        if absent:
            archive = dest / ".downloads" / ARCHIVE
            fetch(client, file_url(kind, base, repo, ARCHIVE), archive, listing[ARCHIVE])
            done += extract(archive, dest, absent)
            if progress:
                progress.write("item", done=total, total=total, name=ARCHIVE)
    return done


def extract(archive: Path, dest: Path, wanted: list[str]) -> list[str]:
    """Extract ``wanted`` (paths under the pretrained folder) from the official zip of that folder."""
    found = []
    with zipfile.ZipFile(archive) as z:
        members = {}
        for info in z.infolist():
            # members are "pretrained_models/<path>" in the official zip; accept a bare "<path>" as well
            rel = (
                info.filename.split("/", 1)[1]
                if info.filename.startswith("pretrained_models/")
                else info.filename
            )
            members[rel] = info
        missing = [w for w in wanted if w not in members]
        if missing:
            raise DownloadError(f"{archive.name} has no {', '.join(missing)}")
        for w in wanted:
            target = dest / w
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            with z.open(members[w]) as src, tmp.open("wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            os.replace(tmp, target)
            found.append(w)
    return found


def build_parser() -> argparse.ArgumentParser:
    p = stage_parser("GPT_SoVITS.download", __doc__)
    p.add_argument(
        "--version",
        choices=version_names(),
        default=DEFAULT_VERSION.value,
        help=f"model version ({DEFAULT_VERSION.value})",
    )
    p.add_argument("--hub", default="huggingface", help=f"{', '.join(HUBS)} or an HF-compatible mirror URL")
    p.add_argument("--repo", default=None, help="repository id (default: the official one of the hub)")
    p.add_argument("--dest", type=Path, default=paths.PRETRAINED_DIR, help="pretrained models folder")
    p.add_argument(
        "--files", nargs="*", default=None, help="only these hub paths (default: all the version needs)"
    )
    return p


def run(args: argparse.Namespace) -> int:
    progress = ProgressLog(args.dest)
    files = args.files or list(pretrained.VERSIONS[args.version].all())
    done = download(args.dest, files, args.hub, args.repo, progress)
    progress.write("end", ok=True, message=f"{len(done)} file(s) downloaded, all {len(files)} present")
    print(json.dumps({"downloaded": done}))
    return 0


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, build_parser(), run, "download", progress=lambda args: ProgressLog(args.dest))


if __name__ == "__main__":
    raise SystemExit(main())
