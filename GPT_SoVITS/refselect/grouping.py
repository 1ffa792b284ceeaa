"""Speaker grouping for roles with many clips: timbre embeddings, clustering, manual moves.

The embedding of a clip is the style vector the loaded SoVITS model's reference encoder makes of it (what
the model itself hears as "the voice"), from the engine's prepared reference spectrogram; it is stored per
(clip, SoVITS file), so clustering again with another k costs nothing. Clustering is cosine k-means with a
deterministic k-means++ start. The v2Pro speaker-verification model is not used yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from GPT_SoVITS.refselect.db import Library, LibraryError
from GPT_SoVITS.refselect.library import clip, clips, role


def embed_role(lib: Library, role_name: str, sovits: str, make_engine: Callable[[], Any]) -> int:
    """Embed every clip of the role that has no embedding for ``sovits`` yet; returns how many were made.
    ``make_engine`` builds the engine once (models loaded once for the whole role)."""
    import torch

    done = {r["clip_id"] for r in lib.rows("SELECT clip_id FROM embeddings WHERE sovits = ?", (sovits,))}
    todo = [c for c in clips(lib, role_name) if c["id"] not in done]
    if not todo:
        return 0
    engine = make_engine()
    for c in todo:
        ref = engine.prepare_reference(lib.abspath(c["path"]))
        with torch.inference_mode():
            model = engine.sovits.model
            spec = ref.spec.to(device=engine.device, dtype=engine.dtype)
            vector = model.style(spec).float().flatten().cpu().numpy()  # [gin_channels]
        with lib.transaction() as con:
            con.execute(
                "INSERT OR REPLACE INTO embeddings (clip_id, sovits, vector) VALUES (?, ?, ?)",
                (c["id"], sovits, vector.astype(np.float32).tobytes()),
            )
    return len(todo)


def kmeans_cosine(x: np.ndarray, k: int, iterations: int = 50) -> np.ndarray:
    """[N, D] -> [N] cluster labels (cosine k-means, k-means++ start with a fixed seed)."""
    if not 1 <= k <= len(x):
        raise LibraryError(f"k: must be 1..{len(x)} (the number of embedded clips), got {k}", "k")
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
    rng = np.random.default_rng(0)
    centres = [x[0]]
    for _ in range(1, k):  # k-means++: far points are likelier starts
        dist = 1 - np.max(x @ np.stack(centres).T, axis=1)
        p = np.clip(dist, 0, None)
        centres.append(x[rng.choice(len(x), p=p / p.sum())] if p.sum() > 0 else x[len(centres)])
    c = np.stack(centres)
    labels = np.zeros(len(x), dtype=int)
    for _ in range(iterations):
        new = np.argmax(x @ c.T, axis=1)
        if _ and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                mean = members.mean(0)
                c[j] = mean / max(np.linalg.norm(mean), 1e-9)
    return labels


def group_role(lib: Library, role_name: str, sovits: str, k: int) -> dict[int, list[int]]:
    """Cluster the role's embedded clips into ``k`` groups (1..k); returns group -> clip ids."""
    rows = lib.rows(
        "SELECT e.clip_id, e.vector FROM embeddings e JOIN clips c ON c.id = e.clip_id "
        "WHERE c.role_id = ? AND e.sovits = ? ORDER BY e.clip_id",
        (role(lib, role_name)["id"], sovits),
    )
    if not rows:
        raise LibraryError(f"role: no clip of {role_name!r} is embedded with {sovits}; embed first", "role")
    vectors = np.stack([np.frombuffer(r["vector"], dtype=np.float32) for r in rows])
    labels = kmeans_cosine(vectors, k)
    with lib.transaction() as con:
        con.executemany(
            "UPDATE clips SET grp = ? WHERE id = ?",
            [(int(g) + 1, r["clip_id"]) for g, r in zip(labels, rows, strict=True)],
        )
    groups: dict[int, list[int]] = {}
    for g, r in zip(labels, rows, strict=True):
        groups.setdefault(int(g) + 1, []).append(r["clip_id"])
    return dict(sorted(groups.items()))


def move_clip(lib: Library, clip_id: int, group: int) -> None:
    """The user's correction: put a clip in another group (0 = none)."""
    clip(lib, clip_id)
    if group < 0:
        raise LibraryError(f"group: must be 0 or more, got {group}", "group")
    with lib.transaction() as con:
        con.execute("UPDATE clips SET grp = ? WHERE id = ?", (group or None, clip_id))
