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
