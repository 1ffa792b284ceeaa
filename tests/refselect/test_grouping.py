"""Speaker grouping: k-means on embeddings, the SoVITS reference-encoder embeddings, manual moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.refselect import grouping, library
from GPT_SoVITS.refselect.db import MIGRATIONS, Library
from GPT_SoVITS.refselect.render import EngineOptions
from tests.refselect.test_tasks import fast_engine


def test_kmeans_separates_two_clouds() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0, 0.05, (6, 8)) + np.eye(8)[0]
    b = rng.normal(0, 0.05, (5, 8)) + np.eye(8)[3]
    labels = grouping.kmeans_cosine(np.concatenate([a, b]), 2)
    assert len(set(labels[:6])) == 1 and len(set(labels[6:])) == 1 and labels[0] != labels[6]
    with pytest.raises(UserError, match=r"k: must be 1\.\.11"):
        grouping.kmeans_cosine(np.concatenate([a, b]), 12)


def test_migration_2_upgrades_a_version_1_library(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "refs" / "refs.db"
    db.parent.mkdir()
    con = sqlite3.connect(db)
    con.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    con.execute("INSERT INTO roles (name, category, created) VALUES ('old', '', 0)")
    con.commit()
    con.close()
    lib = Library(tmp_path / "refs")
    assert library.role(lib, "old")["name"] == "old"
    assert lib.one("PRAGMA user_version") == {"user_version": len(MIGRATIONS)}
    assert "grp" in {r["name"] for r in lib.rows("PRAGMA table_info(clips)")}


def test_embed_group_and_move(lib: Library, speech_dir: Path, tiny_pair, hubert, tmp_path: Path) -> None:
    library.create_role(lib, "mix")
    for stem in "abc":
        library.add_file(lib, "mix", speech_dir / f"{stem}.wav")
    wav, sr = sf.read(speech_dir / "a.wav", dtype="float32")
    sf.write(tmp_path / "copy.wav", wav, sr)
    twin = library.add_file(lib, "mix", tmp_path / "copy.wav")  # the same audio as clip 1
    opts = EngineOptions(None, str(hubert), "cpu")
    built = []

    def make():
        built.append(1)
        return fast_engine(str(tiny_pair[0]), str(tiny_pair[1]), opts)

    assert grouping.embed_role(lib, "mix", str(tiny_pair[1]), make) == 4 and len(built) == 1
    assert grouping.embed_role(lib, "mix", str(tiny_pair[1]), make) == 0 and len(built) == 1  # stored
    vectors = {
        r["clip_id"]: np.frombuffer(r["vector"], np.float32) for r in lib.rows("SELECT * FROM embeddings")
    }
    assert vectors[1].shape == (512,) and np.allclose(vectors[1], vectors[twin], atol=1e-5)
    assert not np.allclose(vectors[1], vectors[2], atol=1e-3)
    groups = grouping.group_role(lib, "mix", str(tiny_pair[1]), 2)
    assert sorted(i for ids in groups.values() for i in ids) == [1, 2, 3, twin]
    assert any(1 in ids and twin in ids for ids in groups.values())  # identical audio, same group
    grouping.move_clip(lib, 2, 7)
    assert library.clip(lib, 2)["grp"] == 7
    with pytest.raises(UserError, match=r"unknown role 'nobody'"):
        grouping.group_role(lib, "nobody", str(tiny_pair[1]), 2)
