"""The SubFix tab in a real browser: edit, page away and back, merge, split at the cursor, undo, save."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.browser.conftest import WebUI, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SR = 16000


def make_list(folder: Path, name: str, n: int, word: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        t = np.arange(SR) / SR
        wav = folder / f"{name}_{i}.wav"
        sf.write(wav, (0.2 * np.sin(2 * np.pi * (200 + 40 * i) * t)).astype(np.float32), SR)
        lines.append(f"{wav}|spk|en|{word} {i} text")
    path = folder / f"{name}.list"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def open_list(page, url: str, path: Path) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_role("tab", name="2. Label (SubFix)").click()
    page.locator("#subfix-path textarea").fill(str(path))
    page.locator("#subfix-load").click()
    expect(page.locator("#subfix-info")).to_contain_text("Page 1/")


def text_box(page, slot: int):
    return page.locator(f"#subfix-text-{slot} textarea")


def test_edit_page_merge_split_undo_save(browser, webui: WebUI, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    lst = make_list(tmp_path / "clips", "voice", 14, "line")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    open_list(page, webui.url, lst)
    expect(text_box(page, 0)).to_have_value("line 0 text")

    # edit, page away and back: the edit is kept without any submit button
    text_box(page, 0).fill("an edited first line")
    page.locator("#subfix-next").click()
    expect(page.locator("#subfix-info")).to_contain_text("Page 2/2")
    expect(text_box(page, 0)).to_have_value("line 10 text")
    page.locator("#subfix-prev").click()
    expect(text_box(page, 0)).to_have_value("an edited first line")

    # merge rows 1 and 2
    page.locator("#subfix-sel-1 input[type=checkbox]").check()
    page.locator("#subfix-sel-2 input[type=checkbox]").check()
    page.locator("#subfix-merge").click()
    expect(text_box(page, 1)).to_have_value("line 1 text line 2 text")
    expect(text_box(page, 2)).to_have_value("line 3 text")

    # split row 2 ("line 3 text") at its text cursor, after "line", and at 0.4 s of its audio
    box = text_box(page, 2)
    box.click()
    box.press("Home")
    for _ in range(4):
        box.press("ArrowRight")
    page.locator("#subfix-split-at input").fill("0.4")
    page.locator("#subfix-split").click()
    expect(text_box(page, 2)).to_have_value("line")
    expect(text_box(page, 3)).to_have_value("3 text")
    screenshot(page, "label")

    # undo the split, then save
    page.locator("#subfix-undo").click()
    expect(text_box(page, 2)).to_have_value("line 3 text")
    page.locator("#subfix-save").click()
    expect(page.locator("#subfix-info")).to_contain_text("saved 13 lines")

    lines = lst.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 13
    assert lines[0].endswith("|spk|en|an edited first line")
    assert lines[1].endswith("|spk|en|line 1 text line 2 text") and "_merged_" in lines[1]
    assert Path(lines[1].split("|")[0]).is_file()
    assert lines[2].endswith("|line 3 text") and lines[-1].endswith("|line 13 text")
    assert (tmp_path / "clips" / "voice.list.bak").read_text(encoding="utf-8").count("\n") == 14
    assert sf.info(lines[1].split("|")[0]).duration == pytest.approx(2.3, abs=0.01)  # 1 s + 0.3 s + 1 s
    page.close()


def test_two_sessions_do_not_see_each_others_rows(browser, webui: WebUI, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    a = make_list(tmp_path / "a", "alpha", 4, "alpha")
    b = make_list(tmp_path / "b", "beta", 6, "beta")
    ctx_a, ctx_b = browser.new_context(), browser.new_context()
    page_a, page_b = ctx_a.new_page(), ctx_b.new_page()
    open_list(page_a, webui.url, a)
    open_list(page_b, webui.url, b)
    text_box(page_a, 0).fill("alpha edited")
    text_box(page_b, 1).fill("beta edited")
    page_a.locator("#subfix-save").click()
    page_b.locator("#subfix-save").click()
    expect(page_a.locator("#subfix-info")).to_contain_text("saved 4 lines")
    expect(page_b.locator("#subfix-info")).to_contain_text("saved 6 lines")
    expect(text_box(page_a, 1)).to_have_value("alpha 1 text")
    expect(text_box(page_b, 0)).to_have_value("beta 0 text")
    assert "beta" not in a.read_text(encoding="utf-8") and "alpha" not in b.read_text(encoding="utf-8")
    assert a.read_text(encoding="utf-8").splitlines()[0].endswith("|alpha edited")
    assert b.read_text(encoding="utf-8").splitlines()[1].endswith("|beta edited")
    ctx_a.close()
    ctx_b.close()


def test_standalone_subfix_opens_the_list_given_on_the_command_line(browser, tmp_path: Path) -> None:
    import subprocess
    import sys
    import time
    import urllib.request

    from playwright.sync_api import expect

    from tests.browser.conftest import REPO, free_port

    lst = make_list(tmp_path / "clips", "solo", 3, "solo")
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "subfix",
        "--list",
        str(lst),
        "--port",
        str(port),
        "--rows",
        "2",
        "--lang",
        "en_US",
    ]
    log = (tmp_path / "subfix.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (
                    tmp_path / "subfix.log"
                ).read_text()
                time.sleep(0.5)
        page = browser.new_page()
        page.goto(url)
        expect(page.locator("#subfix-info")).to_contain_text("Page 1/2")
        expect(text_box(page, 1)).to_have_value("solo 1 text")
        page.close()
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
