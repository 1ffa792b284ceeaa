"""With no network at all (a fresh network namespace) every language still works: nothing downloads."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
from GPT_SoVITS.text.frontend import text_to_phones
for text, lang in [("我有3个苹果", "zh"), ("GPT-SoVITS is great", "en"), ("雨が降る", "ja"),
                   ("안녕하세요", "ko"), ("我哋去飲茶", "yue")]:
    phones = text_to_phones(text, lang, "v2")[0]
    assert len(phones) >= 5, (lang, phones)
    print(lang, " ".join(phones))
"""


@pytest.mark.slow
def test_all_languages_work_without_network(tmp_path):
    unshare = shutil.which("unshare")
    if (
        unshare is None
        or subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode
    ):
        pytest.skip("cannot create a network namespace here (needs unshare and privileges)")
    env = {"HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [unshare, "-n", sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert [line.split()[0] for line in out.stdout.splitlines()] == ["zh", "en", "ja", "ko", "yue"]
    assert "nltk_data" not in out.stderr  # no download attempt
