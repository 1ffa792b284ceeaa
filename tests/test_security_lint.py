"""Security rules made executable: no shell strings, no eval/exec, no unpickling outside the safe loader.

Community checkpoints and user paths reach this code; each rule below closes a way in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = [
    *sorted(
        p
        for root in ("GPT_SoVITS", "tools", "subfix", "bench")
        for p in (REPO / root).rglob("*.py")
        if "__pycache__" not in p.parts
    ),
    REPO / "webui.py",
]
# The one module that may unpickle: its restricted unpickler maps official class paths to plain data.
SAFE_LOADER = REPO / "GPT_SoVITS" / "checkpoints.py"
PICKLE_READS = {"load", "loads", "Unpickler"}


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def violations(tree: ast.AST, is_safe_loader: bool) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id in {"eval", "exec"}:
            found.append((node.lineno, f"{f.id}() runs arbitrary code"))
        shell = _keyword(node, "shell")
        if shell is not None and not (isinstance(shell, ast.Constant) and shell.value is False):
            found.append((node.lineno, "shell= in a process call (use an argv list)"))
        if not isinstance(f, ast.Attribute) or not isinstance(f.value, ast.Name):
            continue
        owner, attr = f.value.id, f.attr
        if owner in {"pickle", "cPickle", "dill"} and attr in PICKLE_READS and not is_safe_loader:
            found.append((node.lineno, f"{owner}.{attr} outside the restricted loader"))
        if owner == "torch" and attr == "load" and not is_safe_loader:
            wo = _keyword(node, "weights_only")
            if not (isinstance(wo, ast.Constant) and wo.value is True):
                found.append((node.lineno, "torch.load without weights_only=True"))
        if owner == "os" and attr in {"system", "popen"}:
            found.append((node.lineno, f"os.{attr} runs a shell"))
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_code_execution_paths(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = violations(tree, path == SAFE_LOADER)
    assert not bad, "\n".join(f"{path.relative_to(REPO)}:{line}: {why}" for line, why in bad)


def test_rules_catch_each_form() -> None:
    src = """
import os, pickle, subprocess, torch
eval("1")
exec("x = 1")
subprocess.run("ls", shell=True)
pickle.loads(b"")
torch.load("f.pth")
torch.load("f.pth", weights_only=False)
os.system("ls")
model.eval()
torch.load("f.pth", weights_only=True)
subprocess.run(["ls"], shell=False)
"""
    lines = [line for line, _ in violations(ast.parse(src), is_safe_loader=False)]
    assert lines == sorted(lines) and lines == [3, 4, 5, 6, 7, 8, 9]
