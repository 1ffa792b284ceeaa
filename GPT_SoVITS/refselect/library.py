"""Roles and clips: create, import (a .list, uploads, lines sent from the label editor), edit, trash.

Imported audio is copied under ``<root>/<role>/`` (the user's originals are never touched). Removing a
clip moves its row to the trash table (restorable); a file leaves the disk only through
:func:`purge_trash` with ``confirm=True``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.listfile import ListEntry, normalize_lang, parse_list, resolve_audio
from GPT_SoVITS.refselect import clips as audio
from GPT_SoVITS.refselect.db import Library, LibraryError, dumps, now, pid_alive

ROLE_RE = re.compile(r"^[\w][\w .-]{0,63}$")  # a folder name on every OS (no slashes, no leading dot)
CLIP_FIELDS = ("transcript", "language", "tags", "notes")


def check_role_name(name: str) -> str:
    name = (name or "").strip()
    if not ROLE_RE.match(name) or name in (".", ".."):
        raise LibraryError(f"role: invalid name {name!r} (letters, digits, space, _ . -; at most 64)", "role")
    return name


def create_role(lib: Library, name: str, category: str = "") -> int:
    name = check_role_name(name)
    with lib.transaction() as con:
        if con.execute("SELECT 1 FROM roles WHERE name = ?", (name,)).fetchone():
            raise LibraryError(f"role: {name!r} exists already", "role")
        cur = con.execute(
            "INSERT INTO roles (name, category, created) VALUES (?, ?, ?)", (name, category.strip(), now())
        )
    (lib.root / name).mkdir(parents=True, exist_ok=True)
    return int(cur.lastrowid)


def role(lib: Library, name: str) -> dict[str, Any]:
    found = lib.one("SELECT * FROM roles WHERE name = ?", (name,))
    if found is None:
        raise LibraryError(f"role: unknown role {name!r}", "role")
    return found


def roles(lib: Library) -> list[dict[str, Any]]:
    """Every role with its clip count, by category then name."""
    return lib.rows(
        "SELECT r.*, COUNT(c.id) AS clips FROM roles r LEFT JOIN clips c ON c.role_id = r.id "
        "GROUP BY r.id ORDER BY r.category, r.name"
    )


def clip(lib: Library, clip_id: int) -> dict[str, Any]:
    found = lib.one(
        "SELECT c.*, r.name AS role FROM clips c JOIN roles r ON r.id = c.role_id WHERE c.id = ?", (clip_id,)
    )
    if found is None:
        raise LibraryError(f"clip: unknown clip id {clip_id}", "clip")
    return found


def clips(lib: Library, role_name: str | None = None, tag: str = "") -> list[dict[str, Any]]:
    sql = "SELECT c.*, r.name AS role FROM clips c JOIN roles r ON r.id = c.role_id"
    args: list[Any] = []
    if role_name:
        sql += " WHERE r.name = ?"
        args.append(role_name)
    rows = lib.rows(sql + " ORDER BY c.id", tuple(args))
    if tag:
        rows = [r for r in rows if tag in [t.strip() for t in r["tags"].split(",")]]
    return rows


def _free_name(folder: Path, stem: str, suffix: str) -> Path:
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._") or "clip"
    path, n = folder / f"{stem}{suffix}", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}_{n}{suffix}"
    return path


def _insert(con, lib: Library, role_row: dict, path: Path, wav: np.ndarray, sr: int, **info: str) -> int:
    a = audio.analyse(wav, sr)
    text = [info.get(k, "") for k in ("transcript", "language", "tags", "notes", "source")]
    cur = con.execute(
        "INSERT INTO clips (role_id, path, duration, loudness, peak, transcript, language, tags, notes, "
        "source, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (role_row["id"], lib.relpath(path), a.duration, a.loudness, a.peak, *text, now()),
    )
    return int(cur.lastrowid)


def add_file(
    lib: Library, role_name: str, src: str | Path, transcript: str = "", language: str = "", **info: str
) -> int:
    """Copy one audio file into the role's folder and add it; ClipError naming the file when it does not
    decode or is shorter than 1 s."""
    src = Path(src)
    wav, sr = audio.read_audio(src)
    audio.check_reference(src, wav, sr)
    if language:
        try:
            language = normalize_lang(language)
        except ValueError as e:
            raise audio.ClipError(src, str(e)) from e
    row = role(lib, role_name)
    folder = lib.root / row["name"]
    folder.mkdir(parents=True, exist_ok=True)
    dest = _free_name(folder, src.stem, src.suffix.lower() or ".wav")
    shutil.copyfile(src, dest)
    try:
        with lib.transaction() as con:
            return _insert(con, lib, row, dest, wav, sr, transcript=transcript.strip(), language=language,
                           source=info.pop("source", str(src)), **info)  # fmt: skip
    except BaseException:
        dest.unlink(missing_ok=True)  # our copy only; the user's file is untouched
        raise


def add_samples(lib: Library, role_name: str, stem: str, wav: np.ndarray, sr: int, **info: str) -> int:
    """Add audio made by a clip tool (a split piece, a window) as a new clip."""
    row = role(lib, role_name)
    dest = _free_name(lib.root / row["name"], stem, ".wav")
    audio.check_reference(dest.name, wav, sr)
    audio.write_audio(dest, wav, sr)
    with lib.transaction() as con:
        return _insert(con, lib, row, dest, wav, sr, **info)


@dataclass
class ImportReport:
    added: list[int] = field(default_factory=list)  # new clip ids
    skipped: list[str] = field(default_factory=list)  # "<file or line>: reason", one per refused item

    def summary(self) -> str:
        return f"{len(self.added)} clip(s) added, {len(self.skipped)} skipped"


def import_entries(lib: Library, role_name: str, entries: Iterable[tuple[Path, ListEntry]]) -> ImportReport:
    """Add (audio file, .list entry) pairs; a clip that fails is reported by name and the rest still go in."""
    role(lib, role_name)
    report = ImportReport()
    for path, entry in entries:
        try:
            report.added.append(add_file(lib, role_name, path, entry.text, entry.lang, source=str(path)))
        except UserError as e:
            report.skipped.append(str(e))
    return report


def import_list(
    lib: Library, role_name: str, list_path: str | Path, audio_root: Path | None = None
) -> ImportReport:
    """Import every line of a ``.list`` file (bad lines are reported with their line number)."""
    list_path = Path(list_path)
    report = ImportReport()
    good = []
    for line in parse_list(list_path, check_audio=True, audio_root=audio_root):
        if line.ok and line.entry is not None:
            good.append((resolve_audio(line.entry.path, list_path, audio_root), line.entry))
        else:
            report.skipped.append(f"{list_path}:{line.line_no}: {', '.join(line.errors)}")
    done = import_entries(lib, role_name, good)
    report.added, report.skipped = done.added, report.skipped + done.skipped
    return report


def import_files(lib: Library, role_name: str, files: Iterable[str | Path]) -> ImportReport:
    """Import uploaded audio files (no transcript yet)."""
    return import_entries(lib, role_name, [(Path(f), ListEntry(str(f), role_name, "", "")) for f in files])


def send_lines(
    lib: Library, role_name: str, lines: Iterable[str], list_path: str | Path | None = None
) -> ImportReport:
    """The label editor's "send selected lines": raw ``.list`` lines (relative paths resolve against
    ``list_path``'s folder); the role is created when it does not exist yet."""
    if lib.one("SELECT 1 FROM roles WHERE name = ?", (role_name,)) is None:
        create_role(lib, role_name)
    base = Path(list_path) if list_path else Path.cwd() / "selected.list"
    report = ImportReport()
    good = []
    for i, raw in enumerate(lines, start=1):
        fields = raw.rstrip("\r\n").split("|")
        if len(fields) < 4:
            report.skipped.append(f"line {i}: expected path|speaker|lang|text")
            continue
        entry = ListEntry(
            fields[0].strip(), fields[1].strip(), fields[2].strip(), "|".join(fields[3:]).strip()
        )
        good.append((resolve_audio(entry.path, base), entry))
    done = import_entries(lib, role_name, good)
    report.added, report.skipped = done.added, report.skipped + done.skipped
    return report


def update_clip(lib: Library, clip_id: int, **changes: str) -> None:
    """Set transcript, language, tags or notes."""
    unknown = sorted(set(changes) - set(CLIP_FIELDS))
    if unknown:
        raise LibraryError(f"{unknown[0]}: not an editable clip field", unknown[0])
    if changes.get("language"):
        try:
            changes["language"] = normalize_lang(changes["language"])
        except ValueError as e:
            raise LibraryError(f"language: {e}", "language") from e
    clip(lib, clip_id)
    if changes:
        sets = ", ".join(f"{k} = ?" for k in changes)
        with lib.transaction() as con:
            con.execute(f"UPDATE clips SET {sets} WHERE id = ?", (*changes.values(), clip_id))


def remove_clip(lib: Library, clip_id: int) -> int:
    """Move a clip to the trash (its file stays on disk); returns the trash id."""
    row = clip(lib, clip_id)
    with lib.transaction() as con:
        con.execute("DELETE FROM clips WHERE id = ?", (clip_id,))
        role_name = row.pop("role")
        cur = con.execute(
            "INSERT INTO trash (clip_id, role_name, row, removed) VALUES (?, ?, ?, ?)",
            (clip_id, role_name, dumps(row), now()),
        )
    return int(cur.lastrowid)


def trash(lib: Library) -> list[dict[str, Any]]:
    return lib.rows("SELECT * FROM trash ORDER BY id")


def restore_clip(lib: Library, trash_id: int) -> int:
    """Put a trashed clip back (under its old id); its role is re-created if it was deleted meanwhile."""
    item = lib.one("SELECT * FROM trash WHERE id = ?", (trash_id,))
    if item is None:
        raise LibraryError(f"trash: unknown trash id {trash_id}", "trash")
    row = json.loads(item["row"])
    if lib.one("SELECT 1 FROM roles WHERE name = ?", (item["role_name"],)) is None:
        create_role(lib, item["role_name"])
    row["role_id"] = role(lib, item["role_name"])["id"]
    with lib.transaction() as con:
        cols = ", ".join(row)
        con.execute(f"INSERT INTO clips ({cols}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
        con.execute("DELETE FROM trash WHERE id = ?", (trash_id,))
    return int(row["id"])


def purge_trash(lib: Library, trash_id: int, confirm: bool = False) -> Path:
    """Delete a trashed clip's file from disk for good: refused unless ``confirm`` is True."""
    item = lib.one("SELECT * FROM trash WHERE id = ?", (trash_id,))
    if item is None:
        raise LibraryError(f"trash: unknown trash id {trash_id}", "trash")
    path = lib.abspath(json.loads(item["row"])["path"])
    if not confirm:
        raise LibraryError(f"{path}: deleting from disk needs an explicit confirmation", "confirm")
    with lib.transaction() as con:
        con.execute("DELETE FROM trash WHERE id = ?", (trash_id,))
    path.unlink(missing_ok=True)
    return path


def delete_role(lib: Library, name: str) -> int:
    """Move every clip of the role to the trash and drop the role; refused while one of its tasks runs."""
    row = role(lib, name)
    running = [
        t
        for t in lib.rows("SELECT id, pid FROM tasks WHERE role_id = ? AND state = 'running'", (row["id"],))
        if pid_alive(t["pid"])
    ]
    if running:
        raise LibraryError(
            f"role: {name!r} has a running comparison task (#{running[0]['id']}); stop it first", "role"
        )
    ids = [c["id"] for c in clips(lib, name)]
    for clip_id in ids:
        remove_clip(lib, clip_id)
    with lib.transaction() as con:
        con.execute("UPDATE tasks SET role_id = NULL WHERE role_id = ?", (row["id"],))
        con.execute("DELETE FROM roles WHERE id = ?", (row["id"],))
    return len(ids)
