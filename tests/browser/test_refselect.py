"""The Reference tab in a real browser, following issue 14's "Done when": create a role, import a .list of
espeak-ng clips, split one, compare 3 references x 2 temperatures on tiny models, play a result, score
with the keyboard, sort by duration, save a preset, synthesise with that preset through the API.
Screenshots only with GSV_SCREENSHOTS=1."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
import soundfile as sf

from GPT_SoVITS.refselect.db import Library
from tests.browser.conftest import WebUI, screenshot
from tests.browser.test_stages_ui import choose, field
from tests.refselect.conftest import hubert, speech_dir, tiny_pair  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def shot(page, name: str) -> None:
    if os.environ.get("GSV_SCREENSHOTS") == "1":
        screenshot(page, name)


def table_ids(page) -> list[int]:
    cells = page.locator('#refsel-table .body-cell[data-col="0"]').all_inner_texts()
    return [int(c) for c in (x.strip() for x in cells) if c.isdigit()]


def test_reference_tab_flow(browser, webui: WebUI, speech_dir: Path, tiny_pair, hubert: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    lib = Library(webui.root / "output" / "refs")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(webui.url)
    page.get_by_role("tab", name="Reference").click()
    # role + import
    field(page, "refsel-new-role").fill("alice")
    page.locator("#refsel-create-role").click()
    expect(field(page, "refsel-lib-status")).to_have_value("role alice created", timeout=30_000)
    field(page, "refsel-list-path").fill(str(speech_dir / "voice.list"))
    page.locator("#refsel-import-list").click()
    expect(field(page, "refsel-lib-status")).to_have_value(re.compile("^3 clip\\(s\\) added"), timeout=60_000)
    expect(page.locator("#refsel-clips .virtual-row")).to_have_count(3, timeout=30_000)
    # split clip 1 at 1.2 s
    field(page, "refsel-clip-id").fill("1")
    choose(page, "refsel-tool", "times")
    field(page, "refsel-times").fill("1.2")
    page.locator("#refsel-apply-tool").click()
    expect(field(page, "refsel-lib-status")).to_have_value(re.compile("^new clips 4, 5"), timeout=60_000)
    expect(page.locator("#refsel-clips .virtual-row")).to_have_count(5, timeout=30_000)
    shot(page, "reference-library")
    # comparison: 3 references x 2 temperatures, one sentence
    for clip_id in (1, 2, 3):
        page.locator("#refsel-refs label").filter(has_text=re.compile(rf"#{clip_id} \d")).click()
    field(page, "refsel-gpt").fill(str(tiny_pair[0]))
    field(page, "refsel-sovits").fill(str(tiny_pair[1]))
    field(page, "refsel-sentences").fill("今天天气很好。")
    field(page, "refsel-temperature").fill("0.6, 1.0")
    field(page, "refsel-retries").fill("0")
    field(page, "refsel-bert").fill("")
    field(page, "refsel-hubert").fill(str(hubert))
    page.locator("#refsel-run").click()
    status = page.locator("#refsel-status .job-status")
    expect(status).to_have_attribute("data-state", "running", timeout=30_000)
    expect(status).to_have_attribute("data-state", "succeeded", timeout=900_000)
    # results, sorted by duration
    choose(page, "refsel-sort", "duration")
    page.locator("#refsel-refresh").click()
    expect(page.locator("#refsel-table .virtual-row")).to_have_count(6, timeout=30_000)
    rows = {r["id"]: r for r in lib.rows("SELECT id, duration FROM results")}
    ids = table_ids(page)
    assert sorted(ids) == sorted(rows) and [rows[i]["duration"] for i in ids] == sorted(
        r["duration"] for r in rows.values()
    )
    # play the first result: its audio and spectrogram appear
    page.locator('#refsel-table [data-testid="cell-0-2"]').click()
    expect(field(page, "refsel-result-id")).to_have_value(str(ids[0]), timeout=30_000)
    expect(page.locator("#refsel-spec img")).to_be_visible(timeout=30_000)
    expect(page.locator("#refsel-audio audio, #refsel-audio button").first).to_be_attached(timeout=30_000)
    page.locator("#refsel-audio button").first.click()  # play
    # keyboard scoring: 5 for the selected result, then 3 for the next one (the selection advances)
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("5")
    expect(field(page, "refsel-result-id")).to_have_value(str(ids[1]), timeout=30_000)
    page.keyboard.press("3")
    expect(field(page, "refsel-result-id")).to_have_value(str(ids[2]), timeout=30_000)
    scores = {r["id"]: r["score"] for r in lib.rows("SELECT id, score FROM results")}
    assert scores[ids[0]] == 5 and scores[ids[1]] == 3 and scores[ids[2]] is None
    shot(page, "reference-results")
    # save the best as a preset, then the API synthesises with it
    page.locator('#refsel-table [data-testid="cell-0-2"]').click()
    expect(field(page, "refsel-result-id")).to_have_value(str(ids[0]), timeout=30_000)
    field(page, "refsel-preset-name").fill("alice-best")
    page.locator("#refsel-save-preset").click()
    expect(field(page, "refsel-review-status")).to_have_value(
        re.compile("^preset alice-best saved"), timeout=30_000
    )
    page.close()
    synthesise_with_preset(webui.root / "output" / "voices", tiny_pair, hubert)


def synthesise_with_preset(presets: Path, tiny_pair, hubert: Path) -> None:  # noqa: F811
    from fastapi.testclient import TestClient

    from GPT_SoVITS.api.app import create_app
    from GPT_SoVITS.api.server import ServerState
    from GPT_SoVITS.presets import PresetStore
    from GPT_SoVITS.refselect.render import EngineOptions
    from tests.refselect.test_tasks import fast_engine

    engine = fast_engine(str(tiny_pair[0]), str(tiny_pair[1]), EngineOptions(None, str(hubert), "cpu"))
    state = ServerState(engine, [presets], presets.parent / "uploads", PresetStore(presets))
    with TestClient(create_app(state)) as client:
        answer = client.post("/tts", json={"text": "我们去公园。", "preset": "alice-best"})
    assert answer.status_code == 200, answer.text
    wav, sr = sf.read(io.BytesIO(answer.content))
    assert sr == 32000 and len(wav) > 0
