"""The whole path in a browser, on espeak-ng speech and tiny random models made here: label -> format ->
train SoVITS and GPT (one step each) -> load the exported weights in the inference tab -> a played file.

The tests run in file order and share one app; each later step skips when an earlier one failed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

from tests.browser.conftest import WebUI, screenshot
from tests.browser.test_stages_ui import choose, field, run_stage
from tests.conftest import require_tool

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SENTENCES = [
    "Hello there, this is my voice.",
    "The weather is lovely today.",
    "We walk slowly in the park.",
    "Birds sing in the green trees.",
    "A cup of tea would be nice.",
    "Thank you very much, my friend.",
]
EXP = "flow"
DONE: dict[str, bool] = {}


@pytest.fixture(scope="module")
def assets(webui: WebUI) -> dict[str, Path]:
    """Tiny BERT/HuBERT folders, a tiny pretrained s2G and GPT, six espeak-ng clips and their .list."""
    torch = pytest.importorskip("torch")
    del torch
    from tests.inference.conftest import make_tiny_bert
    from tests.tiny_models import make_tiny_hubert
    from tests.train.synth import save_tiny_gpt, save_tiny_sovits

    espeak = require_tool("espeak-ng")
    root = webui.root
    s2g = root / "pretrained_models" / "gsv-v2final-pretrained" / "s2G2333k.pth"
    s2g.parent.mkdir(parents=True, exist_ok=True)
    out = {
        "bert": make_tiny_bert(root / "tiny-bert"),
        "hubert": make_tiny_hubert(root / "tiny-hubert"),
        "s2g": save_tiny_sovits(s2g),
        "gpt": save_tiny_gpt(root / "tiny-gpt.ckpt"),
    }
    clips = root / "clips"
    clips.mkdir()
    lines = []
    for i, text in enumerate(SENTENCES):
        wav = clips / f"clip{i}.wav"
        subprocess.run([espeak, "-v", "en-us", "-w", str(wav), text], check=True, capture_output=True)
        lines.append(f"{wav}|speaker|EN|{text.replace('voice', 'vice')}")  # one ASR-like mistake to fix
    out["list"] = root / "clips.list"
    out["list"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    out["ref"] = clips / "clip0.wav"
    return out


def need(step: str) -> None:
    if not DONE.get(step):
        pytest.skip(f"the {step} step did not pass")


def test_label_fix_then_format(browser, webui: WebUI, assets: dict[str, Path]) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(webui.url)
    page.get_by_role("tab", name="2. Label (SubFix)").click()
    field(page, "subfix-path").fill(str(assets["list"]))
    page.locator("#subfix-load").click()
    expect(page.locator("#subfix-text-0 textarea")).to_have_value("Hello there, this is my vice.")
    page.locator("#subfix-text-0 textarea").fill("Hello there, this is my voice.")
    page.locator("#subfix-save").click()
    expect(page.locator("#subfix-info")).to_contain_text("saved 6 lines")
    assert (
        assets["list"]
        .read_text(encoding="utf-8")
        .splitlines()[0]
        .endswith("|EN|Hello there, this is my voice.")
    )

    page.get_by_role("tab", name="3. Format").click()
    field(page, "format-exp").fill(EXP)
    field(page, "format-list").fill(str(assets["list"]))
    field(page, "format-bert").fill(str(assets["bert"]))
    field(page, "format-hubert").fill(str(assets["hubert"]))
    choose(page, "format-device", "cpu")
    run_stage(page, webui, "format", timeout_ms=400_000)
    report = page.locator("#format-report")
    expect(report).to_contain_text("6-name2semantic.tsv")
    assert re.search(r"6-name2semantic\.tsv\s+6\b", report.inner_text()), report.inner_text()
    exp = webui.root / "logs" / EXP
    assert len((exp / "6-name2semantic.tsv").read_text(encoding="utf-8").splitlines()) == 7  # header + 6
    screenshot(page, "format")
    page.get_by_role("tab", name="4. Train").click()
    expect(field(page, "train-exp")).to_have_value(EXP)  # handed over from the format tab
    DONE["format"] = True
    page.close()


def test_train_sovits_then_gpt(browser, webui: WebUI, assets: dict[str, Path]) -> None:
    from playwright.sync_api import expect

    need("format")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(webui.url)
    page.get_by_role("tab", name="4. Train").click()
    exp_box = field(page, "train-exp")
    exp_box.fill(EXP)
    exp_box.press("Enter")
    for stage, pretrained in (("train_sovits", "pretrained_g"), ("train_gpt", "pretrained")):
        field(page, f"{stage}-{pretrained}").fill(str(assets["s2g" if stage == "train_sovits" else "gpt"]))
        field(page, f"{stage}-epochs").fill("1")
        field(page, f"{stage}-batch_size").fill("6")  # one step per epoch; an epoch's end exports weights
        field(page, f"{stage}-save_every").fill("1")
        page.locator(f"#{stage}-no_sample input[type=checkbox]").check()
        choose(page, f"{stage}-device", "cpu")
        run_stage(page, webui, stage, timeout_ms=600_000)
    sovits = sorted((webui.root / "SoVITS_weights").glob(f"{EXP}_e*_s*.pth"))
    gpt = sorted((webui.root / "GPT_weights").glob(f"{EXP}-e*.ckpt"))
    assert sovits and gpt
    page.locator("#train-refresh").click()
    expect(field(page, "train-sovits-files")).to_have_value(str(sovits[-1]))
    screenshot(page, "train")
    DONE["train"] = True
    page.close()


def test_inference_with_the_exported_weights(browser, webui: WebUI, assets: dict[str, Path]) -> None:
    from playwright.sync_api import expect

    need("train")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(webui.url)
    page.get_by_role("tab", name="5. Inference").click()
    page.locator("#infer-refresh").click()
    expect(field(page, "infer-sovits")).to_have_value(
        str(next((webui.root / "SoVITS_weights").glob("*.pth")))
    )
    expect(field(page, "infer-gpt")).to_have_value(str(next((webui.root / "GPT_weights").glob("*.ckpt"))))
    page.locator("#infer-ref input[type=file]").set_input_files(str(assets["ref"]))
    field(page, "infer-prompt-text").fill(SENTENCES[0])
    choose(page, "infer-prompt-lang", "en")
    field(page, "infer-text").fill("The birds sing today.")
    choose(page, "infer-lang", "en")
    page.get_by_text("Engine settings").click()
    field(page, "infer-bert").fill(str(assets["bert"]))
    field(page, "infer-hubert").fill(str(assets["hubert"]))
    choose(page, "infer-device", "cpu")
    page.locator("#infer-synth").click()
    info = page.locator("#infer-info")
    expect(info).to_contain_text("synthesised in", timeout=600_000)
    expect(info).to_contain_text("segments regenerated")
    audio = page.locator("#infer-out audio[src]").first
    expect(audio).to_have_attribute("src", re.compile(r"\S"))
    outputs = sorted((webui.root / "output" / "tts").glob("*.wav"))
    assert outputs and sf.info(outputs[-1]).frames > 0
    # the player's source (an http or blob URL) holds the same non-empty file
    size = audio.evaluate("a => fetch(a.src).then(r => r.arrayBuffer()).then(b => b.byteLength)")
    assert size == outputs[-1].stat().st_size > 44
    screenshot(page, "inference")
    page.close()
