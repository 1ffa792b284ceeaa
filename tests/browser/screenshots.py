"""Refresh the README screenshots: ``python -m tests.browser.screenshots [pytest args]``.

Runs the browser tests with ``GSV_SCREENSHOTS=1``, the only way docs/screenshots/ is written; a plain test
run keeps its screenshots under test-artifacts/browser/.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.browser.conftest import PUBLISH_ENV, REPO, SCREENSHOTS


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    env = {**os.environ, PUBLISH_ENV: "1", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    cmd = [sys.executable, "-m", "pytest", "tests/browser", "-q", *args]
    rc = subprocess.run(cmd, cwd=REPO, env=env, check=False).returncode
    print(f"screenshots in {SCREENSHOTS}" if rc == 0 else f"browser tests failed (exit {rc})")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
