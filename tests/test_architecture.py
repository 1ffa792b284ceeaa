"""The import direction of ../shared/ARCHITECTURE.md, checked on the source text (nothing is imported)."""

from __future__ import annotations

import ast
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


# --- import cycles -------------------------------------------------------------------------------------
# Cycles still being removed elsewhere (issue 12, item 5). A cycle not listed here fails the test; delete the
# entry once its cycle is gone.
KNOWN_CYCLES = [{"GPT_SoVITS.api.app", "GPT_SoVITS.api.routes"}]


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """module -> modules of ``package`` it imports anywhere in its text (lazy and TYPE_CHECKING imports
    included); ``from a.b import c`` points at ``a.b.c`` when that is a module, else at ``a.b``."""
    modules = {}
    for path in (root / package).rglob("*.py"):
        if "__pycache__" not in path.parts:
            parts = list(path.relative_to(root).with_suffix("").parts)
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    edges.add(full if full in modules else node.module)
        graph[name] = {m for m in edges if m in modules and m != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (every cycle lies inside one)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        order[v] = low[v] = len(order)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in order:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            component = {stack.pop()}
            while v not in component:
                component.add(stack.pop())
            if len(component) > 1:
                cycles.append(component)

    for v in sorted(graph):
        if v not in order:
            visit(v)
    return cycles


def test_no_import_cycles_inside_the_package() -> None:
    found = import_cycles(import_graph(ROOT, "GPT_SoVITS"))
    new = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not new, f"import cycles inside GPT_SoVITS: {new}"


def test_cycle_check_can_fail(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from pkg.a import f\n")
    (pkg / "a.py").write_text("from pkg import b\n\ndef f():\n    return b\n")
    (pkg / "b.py").write_text("def g():\n    from pkg.c import h\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n"
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.b"}  # the package itself is not an edge of `from pkg import b`
    assert import_cycles(graph) == [{"pkg.a", "pkg.b", "pkg.c"}]
    (pkg / "c.py").write_text("import os\n")
    assert import_cycles(import_graph(tmp_path, "pkg")) == []
