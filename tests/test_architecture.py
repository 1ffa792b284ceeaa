"""The import direction of ../shared/ARCHITECTURE.md, checked on the source text (nothing is imported)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

UI_LIBS = {"gradio", "fastapi", "uvicorn", "starlette"}
# package prefix -> modules it must never import
FORBIDDEN: dict[str, set[str]] = {
    "GPT_SoVITS": UI_LIBS | {"tools", "subfix", "GPT_SoVITS.webui", "GPT_SoVITS.api"},
    "GPT_SoVITS.inference": {"GPT_SoVITS.api", "GPT_SoVITS.webui"},
    "tools": UI_LIBS | {"subfix", "GPT_SoVITS.webui", "GPT_SoVITS.api"},
    "subfix.editor": UI_LIBS | {"GPT_SoVITS.webui"},
    "subfix.actions": UI_LIBS,  # the action table: plain functions, testable without gradio
    # The UI process never holds models: it talks to the API process.
    "GPT_SoVITS.webui": {"GPT_SoVITS.models", "GPT_SoVITS.inference.engine", "torch"},
}
# Packages that are allowed their UI libraries.
UI_PACKAGES = ("GPT_SoVITS.webui", "GPT_SoVITS.api")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def rules_for(module: str) -> set[str]:
    forbidden: set[str] = set()
    for prefix, banned in FORBIDDEN.items():
        if module == prefix or module.startswith(prefix + "."):
            forbidden |= banned
    if module.startswith(UI_PACKAGES):
        forbidden -= UI_LIBS | {"GPT_SoVITS.webui", "GPT_SoVITS.api"}
    return forbidden


def violates(imported: str, banned: str) -> bool:
    return imported == banned or imported.startswith(banned + ".")


SOURCES = sorted(
    p
    for d in ("GPT_SoVITS", "tools", "subfix")
    for p in (ROOT / d).rglob("*.py")
    if "__pycache__" not in p.parts
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_import_direction(path: Path) -> None:
    module = module_name(path)
    banned = rules_for(module)
    bad = sorted(i for i in imported_modules(path) for b in banned if violates(i, b))
    assert not bad, f"{module} imports {bad}, against the import direction of ARCHITECTURE.md"


def test_rules_catch_a_violation(tmp_path: Path) -> None:
    """The checker itself must be able to fail."""
    src = tmp_path / "x.py"
    src.write_text("import gradio\nfrom tools.slice import main\n")
    found = imported_modules(src)
    banned = rules_for("GPT_SoVITS.audio")
    assert any(violates(i, b) for i in found for b in banned)
    assert not any(violates(i, b) for i in found for b in rules_for("GPT_SoVITS.webui.app") if i == "gradio")


# --------------------------------------------------------------------------------------------------------
# No import cycles between our modules (every import counts, also those inside functions).

# Cycles allowed for now (none: issue 12 removed the last ones, api/app <-> routes and models/gpt
# model <-> fastpath <-> training). A new entry needs a reason beside it.
ALLOWED_CYCLES: set[frozenset[str]] = set()
MODULES = {module_name(p): p for p in SOURCES}


def _owner(name: str, modules: Mapping[str, Path]) -> str | None:
    """The module of ours that ``name`` (a module or a name inside one) lives in, if any."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def local_imports(module: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """Our modules that ``module`` imports (relative imports resolved; ``from pkg import mod`` counts as
    ``pkg.mod``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found.update(o for n in names if (o := _owner(n, modules)) is not None)
    found.discard(module)
    return found


def import_cycles(graph: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative DFS)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(frozenset(component))
    return cycles


def test_no_import_cycles() -> None:
    graph = {m: local_imports(m, p, MODULES) for m, p in MODULES.items()}
    cycles = [sorted(c) for c in import_cycles(graph) if c not in ALLOWED_CYCLES]
    assert not cycles, f"import cycles: {cycles}"


def test_cycle_check_finds_a_cycle(tmp_path: Path) -> None:
    """The checker can fail: a three-module circle made of relative and absolute imports is found."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.c import g\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    (pkg / "d.py").write_text("from pkg import a\n")
    mods = {"pkg": pkg / "__init__.py", **{f"pkg.{n}": pkg / f"{n}.py" for n in "abcd"}}
    graph = {m: local_imports(m, p, mods) for m, p in mods.items()}
    assert graph["pkg.d"] == {"pkg.a"}
    assert import_cycles(graph) == [frozenset({"pkg.a", "pkg.b", "pkg.c"})]
