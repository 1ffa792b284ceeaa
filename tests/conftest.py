"""Shared fixtures: where ../shared lives, and small helpers every test folder uses."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"


def _require_shared() -> Path:
    if (SHARED_DIR / "parity").is_dir():
        return SHARED_DIR
    if os.environ.get("GSV_REQUIRE_SHARED") == "1":
        pytest.fail(f"{SHARED_DIR / 'parity'} is required in CI but absent")
    pytest.skip(f"{SHARED_DIR / 'parity'} is absent (a user's clone): parity data comes from the maintainers")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout, read in place; skipped with a reason where absent."""
    return _require_shared()


@pytest.fixture(scope="session")
def golden_dir(shared_dir: Path) -> Path:
    return shared_dir / "parity" / "golden"


@pytest.fixture(scope="session")
def next_golden_dir(shared_dir: Path) -> Path:
    """Goldens of v2Pro/v2ProPlus/v3/v4 (``../shared/parity/next/golden``)."""
    return shared_dir / "parity" / "next" / "golden"


@pytest.fixture(scope="session")
def next_inventory_dir(shared_dir: Path) -> Path:
    """Inventories of the SV model and the v3/v4 vocoders (``../shared/parity/next/inventory``)."""
    return shared_dir / "parity" / "next" / "inventory"


@pytest.fixture(scope="session")
def inventory_dir(shared_dir: Path) -> Path:
    return shared_dir / "parity" / "inventory"


def require_tool(name: str) -> str:
    """Path of an external program the test needs (installed by scripts/setup-env.sh --dev)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; scripts/setup-env.sh --dev installs it")
        pytest.skip(f"{name} is not installed")
    return path
