"""Lint: user data is written only through GPT_SoVITS/fileio.py (atomic_output, atomic_write_bytes,
atomic_torch_save), so a crash or a kill never leaves a half-written file where a user's file was.

An AST scan of GPT_SoVITS/, tools/ and subfix/ finds every direct write: ``open(..., "w"/"wb"/"a"/"x")``
and ``Path.open`` with such a mode, ``Path.write_text``/``write_bytes``, ``sf.write``, ``torch.save``,
``np.save``/``np.savez``. A write is fine without a listing when it goes to the temp path an atomic
helper yields (``with atomic_output(p) as tmp``) or to an in-memory buffer (``io.BytesIO``). Anything
else must be in ALLOWED (file:function and the reason), and every ALLOWED entry must still exist.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("GPT_SoVITS", "tools", "subfix")
HELPERS = REPO / "GPT_SoVITS" / "fileio.py"

# file:function -> why a direct write is right there.
ALLOWED = {
    "GPT_SoVITS/progress.py:write": "progress.jsonl: append-only, one whole JSON line per write",
    "GPT_SoVITS/data/experiment.py:add_dropped": "dropped-items log: append-only short lines",
    "GPT_SoVITS/prepare/common.py:merge_lock": "an empty advisory lock file, opened to flock it",
    "GPT_SoVITS/webui/runner.py:start_chain": "the runner's own job record and empty log, not user data",
    "GPT_SoVITS/webui/runner.py:_spawn": "the job's log, appended by the child process while it runs",
    "GPT_SoVITS/download.py:extract": "written to <name>.part, then renamed over the target",
    "GPT_SoVITS/api/server.py:save_upload": "upload cache: <hash>.part, then renamed over the target",
    "GPT_SoVITS/presets.py:save": "into a mkdtemp staging folder that is renamed into place whole",
    "tools/models.py:assemble_whisper_base": "into a mkdtemp staging folder renamed into place whole",
}

WRITE_MODES = set("wax+")
ATTR_WRITES = {"write_text", "write_bytes"}
MODULE_WRITES = {("sf", "write"), ("soundfile", "write"), ("torch", "save"), ("np", "save"), ("np", "savez"),
                 ("np", "savez_compressed"), ("numpy", "save")}  # fmt: skip
SAFE_SOURCES = ("atomic_output", "BytesIO")  # a name bound from these is a temp path or a memory buffer


def _mode(call: ast.Call, position: int) -> str:
    node = next((k.value for k in call.keywords if k.arg == "mode"), None)
    if node is None and len(call.args) > position:
        node = call.args[position]
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else "r"


def _root_name(node: ast.expr) -> str | None:
    """``tmp`` of ``tmp``, ``tmp / "x"``, ``tmp.with_suffix(...)``."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.BinOp):
            node = node.left
        elif isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


def _safe_names(func: ast.AST) -> set[str]:
    """Names bound in ``func`` from an atomic helper's temp path or an in-memory buffer."""
    names = set()
    for node in ast.walk(func):
        pairs = []
        if isinstance(node, ast.With | ast.AsyncWith):
            pairs = [(i.context_expr, i.optional_vars) for i in node.items]
        elif isinstance(node, ast.Assign):
            pairs = [(node.value, t) for t in node.targets]
        for value, target in pairs:
            if isinstance(target, ast.Name) and any(s in ast.unparse(value) for s in SAFE_SOURCES):
                names.add(target.id)
    return names


def _write_target(call: ast.Call) -> tuple[str, ast.expr | None] | None:
    """(what the call is, the path or file it writes) for a write call, else None."""
    f = call.func
    if isinstance(f, ast.Name) and f.id == "open" and set(_mode(call, 1)) & WRITE_MODES:
        return "open", call.args[0] if call.args else None
    if not isinstance(f, ast.Attribute):
        return None
    if f.attr in ATTR_WRITES:
        return f.attr, f.value
    module = isinstance(f.value, ast.Name) and f.value.id in {"io", "os", "gzip", "bz2", "lzma"}
    if f.attr == "open" and not module and set(_mode(call, 0)) & WRITE_MODES:
        return "Path.open", f.value
    if isinstance(f.value, ast.Name) and (f.value.id, f.attr) in MODULE_WRITES:
        index = 1 if f.attr == "save" and f.value.id == "torch" else 0
        return f"{f.value.id}.{f.attr}", call.args[index] if len(call.args) > index else None
    return None


def direct_writes(path: Path, rel: str | None = None) -> list[tuple[str, int, str]]:
    """(file:function, line, what) of every write in ``path`` that does not go through the helpers."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = rel or path.relative_to(REPO).as_posix()
    found = []
    funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for func in funcs:
        safe = _safe_names(func)
        inner = {
            id(n)
            for f in ast.walk(func)
            if f is not func and isinstance(f, ast.FunctionDef)
            for n in ast.walk(f)
        }
        for node in ast.walk(func):
            if id(node) in inner or not isinstance(node, ast.Call):
                continue
            hit = _write_target(node)
            if hit is None:
                continue
            what, target = hit
            if target is not None and _root_name(target) in safe:
                continue
            found.append((f"{rel}:{func.name}", node.lineno, what))
    return found


def _sources() -> list[Path]:
    return sorted(
        p
        for root in ROOTS
        for p in (REPO / root).rglob("*.py")
        if "__pycache__" not in p.parts and p != HELPERS
    )


def test_user_data_is_written_only_through_the_atomic_helpers() -> None:
    offenders = [
        f"{where} (line {line}): {what}"
        for path in _sources()
        for where, line, what in direct_writes(path)
        if where not in ALLOWED
    ]
    assert not offenders, "direct writes outside GPT_SoVITS/fileio.py:\n" + "\n".join(offenders)


def test_every_allowed_entry_still_exists() -> None:
    seen = {where for path in _sources() for where, _, _ in direct_writes(path)}
    stale = sorted(set(ALLOWED) - seen)
    assert not stale, f"allow-list entries without a direct write any more (remove them): {stale}"


def test_the_lint_finds_a_direct_write(tmp_path: Path) -> None:
    """The scan is not vacuous: each write form is found, and the atomic forms are not."""
    src = tmp_path / "probe.py"
    src.write_text(
        "import soundfile as sf, torch, numpy as np\n"
        "from GPT_SoVITS.fileio import atomic_output\n"
        "def bad(p, x):\n"
        "    open(p, 'w').write('x')\n"
        "    p.write_text('x')\n"
        "    sf.write(p, x, 16000)\n"
        "    torch.save(x, p)\n"
        "    np.save(p, x)\n"
        "    (p / 'a').open('ab')\n"
        "def good(p, x):\n"
        "    with atomic_output(p) as tmp:\n"
        "        sf.write(tmp, x, 16000)\n"
        "        (tmp).write_bytes(b'')\n"
        "    open(p).read()\n",
        encoding="utf-8",
    )
    found = direct_writes(src, rel="probe.py")
    assert sorted(w for _, _, w in found) == sorted(
        [
            "open",
            "write_text",
            "sf.write",
            "torch.save",
            "np.save",
            "Path.open",
        ]
    )
    assert {where.rsplit(":", 1)[1] for where, _, _ in found} == {"bad"}
