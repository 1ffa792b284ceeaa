"""The reference library's SQLite file: one schema built by numbered migrations, WAL, short transactions.

Every operation opens its own connection (cheap; safe from any thread or process) with a busy timeout, so
two writers (two browser tabs, the WebUI and a running task) wait for each other instead of failing. A
write is one transaction: a crash leaves the previous state, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from GPT_SoVITS.errors import UserError

DB_NAME = "refs.db"
BUSY_TIMEOUT_MS = 30000  # a writer waits this long for another one before giving up

# Migration i (1-based) upgrades schema version i-1 to i. Append only: never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE roles (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,          -- also the audio folder name under the library root
        category TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL
    );
    CREATE TABLE clips (
        id INTEGER PRIMARY KEY,
        role_id INTEGER NOT NULL REFERENCES roles(id),
        path TEXT NOT NULL UNIQUE,          -- relative to the library root
        duration REAL NOT NULL,             -- seconds
        loudness REAL NOT NULL,             -- dBFS RMS of the active (non-silent) frames
        peak REAL NOT NULL,                 -- max |sample|
        transcript TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '',      -- comma-separated: emotion, style...
        notes TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',    -- where it came from: a file, "split:<id>", "window:<id>"
        created REAL NOT NULL
    );
    CREATE INDEX clips_role ON clips(role_id);
    CREATE TABLE trash (
        id INTEGER PRIMARY KEY,
        clip_id INTEGER NOT NULL,           -- the removed clip's id (restored under the same id)
        role_name TEXT NOT NULL,
        row TEXT NOT NULL,                  -- the clip row as JSON
        removed REAL NOT NULL
    );
    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        role_id INTEGER REFERENCES roles(id),
        spec TEXT NOT NULL,                 -- the TaskSpec as JSON
        state TEXT NOT NULL DEFAULT 'new',  -- new | running | done | failed
        pid INTEGER,                        -- process rendering it while running
        message TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL
    );
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        task_id INTEGER NOT NULL REFERENCES tasks(id),
        idx INTEGER NOT NULL,               -- render order (grouped by weight pair)
        params TEXT NOT NULL,               -- the combination as JSON
        UNIQUE (task_id, idx)
    );
    CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL UNIQUE REFERENCES items(id),  -- one result per item, ever
        task_id INTEGER NOT NULL REFERENCES tasks(id),
        wav TEXT NOT NULL,                  -- relative to the library root
        duration REAL NOT NULL,
        flags TEXT NOT NULL,                -- JSON list of automatic flags
        meta TEXT NOT NULL,                 -- JSON: seed, guard reports, engine notes, timings
        score INTEGER,                      -- 1..5, NULL = not scored
        scored REAL,                        -- when the score was last written
        created REAL NOT NULL
    );
    CREATE INDEX results_task ON results(task_id);
    """,
    """
    ALTER TABLE clips ADD COLUMN grp INTEGER;  -- speaker group (NULL: none), see refselect.grouping
    CREATE TABLE embeddings (
        clip_id INTEGER NOT NULL,
        sovits TEXT NOT NULL,               -- the SoVITS file whose reference encoder made the vector
        vector BLOB NOT NULL,               -- float32 [gin_channels]
        PRIMARY KEY (clip_id, sovits)
    );
    """,
)


class LibraryError(UserError):
    """Bad input to the reference library (unknown role or clip, a name in use...)."""


def now() -> float:
    return round(time.time(), 3)


def _migrate(con: sqlite3.Connection) -> None:
    while True:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise LibraryError(f"database schema {version} is newer than this program ({len(MIGRATIONS)})")
        if version == len(MIGRATIONS):
            return
        # one transaction per migration, with the version bump inside it
        script = f"BEGIN IMMEDIATE;\n{MIGRATIONS[version]};\nPRAGMA user_version = {version + 1};\nCOMMIT;"
        try:
            con.executescript(script)
        except sqlite3.OperationalError:
            if con.in_transaction:
                con.execute("ROLLBACK")
            # another process may have run this migration first (between our read and our BEGIN)
            if con.execute("PRAGMA user_version").fetchone()[0] == version:
                raise


@dataclass(frozen=True)
class Library:
    """A library root (``output/refs``): the database and the audio folders beside it."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())
        self.root.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            _migrate(con)

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at each checkpoint, never torn
            con.execute("PRAGMA foreign_keys=ON")
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once (BEGIN IMMEDIATE): no lost updates between writers."""
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def rows(self, sql: str, params: tuple | dict = ()) -> list[dict[str, Any]]:
        with self.connect() as con:
            return [dict(r) for r in con.execute(sql, params)]

    def one(self, sql: str, params: tuple | dict = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def abspath(self, rel: str) -> Path:
        return self.root / rel

    def relpath(self, path: Path) -> str:
        return Path(path).resolve().relative_to(self.root).as_posix()

    def integrity(self) -> str:
        """``PRAGMA integrity_check``: "ok" for a sound file."""
        with self.connect() as con:
            return str(con.execute("PRAGMA integrity_check").fetchone()[0])


def pid_alive(pid: int | None) -> bool:
    """Is a process with this id running (a task's renderer)? Zombies count as ended."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.is_file():
        with contextlib.suppress(OSError, IndexError):
            return stat.read_text().split(")")[-1].split()[0] != "Z"
    return True


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
