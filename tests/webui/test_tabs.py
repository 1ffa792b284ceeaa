"""Each tab's handlers without a browser: values -> argv, validation messages, reports, file scans."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import webui
from GPT_SoVITS.inference.request import RequestError
from GPT_SoVITS.webui import i18n
from GPT_SoVITS.webui.app import make_context
from GPT_SoVITS.webui.context import AppContext
from GPT_SoVITS.webui.stages import STAGES, StageInputError, build_argv
from GPT_SoVITS.webui.tabs import format as fmt
from GPT_SoVITS.webui.tabs import inference, models, train
from GPT_SoVITS.webui.tabs.common import poll_job, start_job

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ctx(tmp_path: Path) -> AppContext:
    c = make_context("en_US", tmp_path)
    yield c
    c.runner.stop_all()


def test_catalogues_have_the_same_keys_and_cover_the_source() -> None:
    cats = {lang: i18n.load_catalog(lang) for lang in i18n.LANGUAGES}
    keys = set(cats["en_US"])
    for lang, cat in cats.items():
        assert set(cat) == keys, f"{lang} differs: {sorted(set(cat) ^ keys)[:5]}"
        assert all(v.strip() for v in cat.values())
    used = set()
    for src in [*(REPO / "GPT_SoVITS" / "webui").rglob("*.py"), *(REPO / "subfix").glob("*.py")]:
        used |= set(re.findall(r"\bt\([\"']([a-z_]+\.[a-z_.]+)[\"']", src.read_text(encoding="utf-8")))
    assert used and used <= keys, sorted(used - keys)
    assert i18n.I18n("zh_CN")("subfix.page", page=1, pages=2, rows=3, path="a").startswith("第 1/2 页")


def test_every_stage_value_has_a_label_in_every_language() -> None:
    for lang in i18n.LANGUAGES:
        cat = i18n.load_catalog(lang)
        for spec in STAGES.values():
            for arg in spec.args:
                assert f"arg.{spec.key}.{arg.key}" in cat or f"arg.{arg.key}" in cat, (
                    lang,
                    spec.key,
                    arg.key,
                )


def test_language_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_ALL", "ja_JP.UTF-8")
    assert i18n.resolve_language("auto") == "ja_JP"
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    assert i18n.resolve_language("auto") == "en_US"
    with pytest.raises(ValueError, match="unknown UI language"):
        i18n.resolve_language("xx")


def test_format_values_and_report(ctx: AppContext, tmp_path: Path) -> None:
    with pytest.raises(StageInputError, match="experiment name"):
        fmt.exp_dir(ctx, "../escape")
    lst = tmp_path / "a.list"
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(1600, np.float32), 16000)
    lst.write_text(f"{wav}|s|en|hello\n{tmp_path / 'gone.wav'}|s|en|missing\n", encoding="utf-8")
    named = {"exp_name": "voice1", "list": str(lst), "audio_root": "", "version": "v2", "device": "cpu"}
    (tmp_path / "hubert").mkdir()
    vals = fmt.format_values(ctx, {**named, "bert": str(tmp_path), "hubert": str(tmp_path / "hubert")})
    assert [v["exp"] for v in vals] == [str(tmp_path / "logs" / "voice1")] * 3
    assert "bert" in vals[0] and "bert" not in vals[1] and vals[1]["hubert"] == str(tmp_path / "hubert")
    assert all(v["device"] == "cpu" and v["version"] == "v2" for v in vals)
    assert vals[2]["pretrained_sovits"].endswith("gsv-v2final-pretrained/s2G2333k.pth")
    with pytest.raises(StageInputError, match="no such file") as e:  # the pretrained G is absent here
        start_job(ctx, ["prepare_text", "prepare_hubert", "prepare_semantic"], vals)
    assert e.value.field == "pretrained_sovits"
    exp = tmp_path / "logs" / "voice1"
    (exp / "4-cnhubert").mkdir(parents=True)
    (exp / "4-cnhubert" / "a.wav.pt").write_bytes(b"")
    (exp / "2-name2text.txt").write_text("a.wav\tp\t1\tt\n", encoding="utf-8")
    report = fmt.experiment_report(exp, lst)
    assert "| list | 1 |" in report and "| 2-name2text.txt | 1 |" in report and "| 3-bert | 0 |" in report
    assert "line 2: audio file not found" in report
    assert "| 列表 | 1 |" in fmt.experiment_report(exp, lst, i18n.I18n("zh_CN"))


def test_train_helpers(ctx: AppContext, tmp_path: Path) -> None:
    (tmp_path / "logs" / "v").mkdir(parents=True)
    gpt_dir = str(tmp_path / "GPT_weights")
    named = {"exp_name": "v", "version": "v1", "pretrained": "", "epochs": 3, "batch_size": 4}
    named |= {"save_every": 2, "dpo": True, "weights_dir": gpt_dir, "device": "cpu", "precision": "auto"}
    vals = train.train_values(ctx, {**named, "list": "", "max_steps": 5, "no_sample": True})
    assert (
        vals[0]["exp"] == str(tmp_path / "logs" / "v")
        and vals[0]["dpo"] is True
        and vals[0]["version"] == "v1"
    )
    argv = build_argv(STAGES["train_gpt"], vals[0])
    assert argv[argv.index("--version") + 1] == "v1" and argv[argv.index("--precision") + 1] == "auto"
    assert argv[argv.index("--max-steps") + 1] == "5" and "--no-sample" in argv and "--list" not in argv
    events = [
        {"event": "start", "total": 10},
        {"event": "metric", "step": 1, "epoch": 1, "loss_mel": 3.5, "lr": 1e-4, "loss_kl": 1.0},
        {"event": "metric", "step": 2, "epoch": 1, "loss_mel": 3.0, "lr": 1e-4, "loss_kl": 0.5},
    ]
    frame = train.loss_frame(events)
    assert sorted(set(frame["series"])) == ["loss_kl", "loss_mel"] and len(frame) == 4
    for name in ("v_e4_s40.pth", "v_e12_s120.pth", "other_e1_s1.pth"):
        (tmp_path / "SoVITS_weights").mkdir(exist_ok=True)
        (tmp_path / "SoVITS_weights" / name).write_bytes(b"x")
    (tmp_path / "GPT_weights").mkdir()
    (tmp_path / "GPT_weights" / "v-e15.ckpt").write_bytes(b"x")
    sv, gp, sm = train.exported(ctx, "v")
    assert [Path(p).name for p in sv] == ["v_e12_s120.pth", "v_e4_s40.pth"]
    assert [Path(p).name for p in gp] == ["v-e15.ckpt"] and sm == []
    assert train.pretrained_defaults(ctx, "v1")["pretrained_g"] == ""  # absent: train from random weights
    (tmp_path / "pretrained_models").mkdir()
    (tmp_path / "pretrained_models" / "s2G488k.pth").write_bytes(b"x")
    found = train.pretrained_defaults(ctx, "v1")
    assert (
        found["pretrained_g"] == str(tmp_path / "pretrained_models" / "s2G488k.pth")
        and found["pretrained_d"] == ""
    )


def test_inference_request_and_weight_scan(tmp_path: Path) -> None:
    values = {"text": "hello", "text_lang": "en", "ref_audio_path": "/r.wav", "prompt_text": "hi"}
    values |= {
        "prompt_lang": "en",
        "ref_free": False,
        "aux_ref_audio_paths": None,
        "text_split_method": "cut5",
    }
    values |= {"top_k": 15.0, "top_p": 1, "temperature": 1, "repetition_penalty": 1.35, "speed_factor": 1}
    values |= {"fragment_interval": 0.3, "seed": 42.0, "batch_size": 1, "split_bucket": True}
    body = inference.build_request({**values, "parallel_infer": True})
    assert body["seed"] == 42 and body["text_split_method"] == "cut5" and body["prompt_text"] == "hi"
    assert body["top_k"] == 15 and body["aux_ref_audio_paths"] == [] and body["media_type"] == "wav"
    assert inference.build_request({**values, "ref_free": True})["prompt_text"] == ""  # reference-free
    with pytest.raises(RequestError, match="text"):
        inference.build_request({**values, "text": ""})
    with pytest.raises(RequestError, match="top_p"):
        inference.build_request({**values, "top_p": 1.5})
    engine = {"gpt": "g.ckpt", "sovits": "s.pth", "bert": " b ", "hubert": "h", "no_bert": True}
    engine |= {"device": "cpu", "precision": "fp32"}
    settings, body = inference.split_values({**values, **engine}, i18n.I18n("en_US"))
    assert (settings.gpt, settings.bert, settings.no_bert) == ("g.ckpt", "b", True) and body[
        "text"
    ] == "hello"
    with pytest.raises(ValueError, match="choose GPT and SoVITS"):
        inference.split_values({**values, **engine, "gpt": None}, i18n.I18n("en_US"))
    for d, f in (("GPT_weights", "a.ckpt"), ("GPT_weights_v2", "b.ckpt"), ("SoVITS_weights_v2Pro", "c.pth")):
        (tmp_path / d).mkdir()
        (tmp_path / d / f).write_bytes(b"x")
    gpts, sovits = inference.scan_weights(tmp_path)
    assert sorted(Path(p).name for p in gpts) == ["a.ckpt", "b.ckpt"] and [Path(p).name for p in sovits] == [
        "c.pth"
    ]


def test_phoneme_preview_applies_overrides_without_torch() -> None:
    code = (
        "import sys, json; from GPT_SoVITS.webui.tabs.inference import phoneme_preview; "
        "rows = phoneme_preview('I {read|R EH1 D} books.', 'en'); "
        "print(json.dumps({'rows': rows, 'torch': 'torch' in sys.modules}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert not info["torch"]
    (lang, norm, phones, _backend), *_ = info["rows"]
    assert lang == "en" and "read" in norm and "R EH1 D" in phones
    with pytest.raises(ValueError, match="type a text"):
        inference.phoneme_preview("  ", "en")


def test_result_info_reports_seed_retries_and_notes() -> None:
    headers = {"X-TTS-Seed": "42", "X-TTS-Retries": "1", "X-TTS-Notes": '["reference padded"]', "Server": "x"}
    text = inference.result_info(i18n.I18n("en_US"), headers, 2.04)
    assert text.splitlines() == [
        "synthesised in 2.0 s",
        "- seed: 42",
        "- segments regenerated (swallowed or repeated words): 1",
        "- reference padded",
    ]


def test_models_tab(tmp_path: Path) -> None:
    (tmp_path / "chinese-hubert-base").mkdir()
    (tmp_path / "chinese-hubert-base" / "config.json").write_text("{}")
    rows = models.status_table(tmp_path, "v2")
    by_path = {r[0]: r for r in rows}
    assert by_path["chinese-hubert-base/config.json"][1] == "✔"
    assert by_path["gsv-v2final-pretrained/s2G2333k.pth"][1] == "✘"
    models.check_hub("hf-mirror")
    models.check_hub("http://127.0.0.1:8000")
    with pytest.raises(StageInputError, match="neither"):
        models.check_hub("ftp://x")


def test_failing_stage_shows_its_reason(ctx: AppContext, tmp_path: Path) -> None:
    """ASR with a model folder that does not exist: the job fails and the status says why."""
    clips = tmp_path / "clips"
    clips.mkdir()
    sf.write(
        clips / "a.wav", (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32), 16000
    )
    values = {"input": str(clips), "output": str(tmp_path / "asr"), "model": str(tmp_path / "no-whisper")}
    job = start_job(ctx, ["asr"], [values])
    st = ctx.runner.wait(job, timeout=120)
    html_, _tail, running, _ = poll_job(ctx, job)
    assert st.state == "failed" and not running
    assert "no-whisper" in st.message and 'data-state="failed"' in html_ and "Traceback" not in st.message


def test_app_builds_without_torch_and_lists_tabs(tmp_path: Path) -> None:
    code = (
        "import sys; from GPT_SoVITS.webui.app import build_app; from subfix.ui import build_label_tab; "
        f"d = build_app('ja_JP', root={str(tmp_path)!r}, label_tab=build_label_tab); "
        "import json; print(json.dumps({'torch': 'torch' in sys.modules, "
        "'tabs': [b.label for b in d.blocks.values() if type(b).__name__ == 'Tab']}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert out.returncode == 0, out.stderr[-2000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["torch"] is False
    assert {"2. ラベル校正 (SubFix)", "4. 学習", "5. 推論"} <= set(info["tabs"])


def test_launcher_auth(tmp_path: Path) -> None:
    assert webui.parse_auth("me:secret") == [("me", "secret")]
    f = tmp_path / "users.txt"
    f.write_text("# users\nalice:pw1\n\nbob:pw:with:colons\n")
    assert webui.parse_auth(str(f)) == [("alice", "pw1"), ("bob", "pw:with:colons")]
    f.write_text("alice\n")
    with pytest.raises(webui.AuthError, match=r"users\.txt:1"):
        webui.parse_auth(str(f))
    logins, message = webui.resolve_auth(None, share=True)
    assert logins[0][0] == "admin" and len(logins[0][1]) >= 12 and logins[0][1] in message
    assert webui.resolve_auth(None, share=True)[0] != logins  # a new password each start
    assert webui.resolve_auth("u:p", share=True) == ([("u", "p")], "")
    assert webui.resolve_auth(None, share=False) == (None, "")
    out = subprocess.run(
        [sys.executable, "webui.py", "--auth", "nopassword"],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 2 and "expected user:password" in out.stderr


@pytest.mark.parametrize("step", [1, 7, 4096])
def test_streamed_wav_is_parsed_chunk_by_chunk(step: int) -> None:
    import io

    from GPT_SoVITS.webui.apiclient import ApiError, WavStream

    wav = (np.sin(np.arange(8000) / 7.0) * 20000).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, wav, 24000, format="WAV", subtype="PCM_16")
    data = buf.getvalue()
    out = list(WavStream().feed_all(data[i : i + step] for i in range(0, len(data), step)))
    assert {sr for sr, _ in out} == {24000}
    assert np.array_equal(np.concatenate([c for _, c in out]), wav)
    with pytest.raises(ApiError, match="not WAV"):
        list(WavStream().feed_all([b"OggS" + bytes(40)]))


def test_page_load_and_polling_never_lose_a_started_job(ctx: AppContext) -> None:
    """The page-load reattach and a start run concurrently (a start right after loading): the reattach
    must not overwrite the panel when it finds no job, and polling must follow the stage's newest job."""
    import gradio as gr

    from GPT_SoVITS.webui.app import build_app

    demo = build_app("en_US", ctx=ctx)

    def handler(name: str):
        for f in demo.fns.values():
            if getattr(f.fn, "__name__", "") == name and any(
                getattr(o, "elem_id", None) == "asr-status" for o in f.outputs
            ):
                return f.fn
        raise AssertionError(f"no {name} handler for the ASR panel")

    on_load, on_tick = handler("on_load"), handler("on_tick")
    assert all(u == gr.update() for u in on_load())  # no job: the answer changes nothing on the page
    first = ctx.runner.start("asr", "no_such_stage_module", [])
    ctx.runner.wait(first, timeout=60)
    job, html_, _tail, timer = on_load()
    assert job == first and f'data-job="{first}"' in html_ and timer.active
    second = ctx.runner.start("asr", "no_such_stage_module", [])
    ctx.runner.wait(second, timeout=60)
    # a late reattach left the panel on the first job (or on none): the next tick moves it to the newest
    for shown in (first, None):
        job, html_, *_ = on_tick(shown)
        assert job == second and f'data-job="{second}"' in html_ and 'data-state="failed"' in html_


class RecordingApi:
    """Stands in for the API process: keeps what the tab sends and answers with a short real wav."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def tts(self, settings, body):
        import io

        from GPT_SoVITS.webui.apiclient import TTSResult

        self.calls.append((settings, body))
        buf = io.BytesIO()
        sf.write(buf, (0.1 * np.sin(np.arange(3200) / 5)).astype(np.float32), 32000, format="WAV")
        return TTSResult(buf.getvalue(), "audio/wav", {"X-TTS-Seed": str(body["seed"])})


def test_synthesize_button_sends_every_field_by_name(ctx: AppContext, tmp_path: Path) -> None:
    """The click hands the components' values to the handler by field name: what the user set in each
    component arrives in that field of the /tts body or of the API settings."""
    import gradio as gr

    with gr.Blocks() as demo:
        ui = inference.build_inference_tab(ctx)
    synth = next(fn for fn in demo.fns.values() if any(b == ui["synth"]._id for b, _ in fn.targets))
    by_name = dict(
        zip(synth.input_keyword_names, synth.inputs[-len(synth.input_keyword_names) :], strict=True)
    )
    assert by_name == {k: c for k, c in ui.items() if k in inference.REQUEST_FIELDS | inference.ENGINE_FIELDS}
    given = {"text": "hello there", "text_lang": "en", "ref_audio_path": str(tmp_path / "r.wav")}
    given |= {"prompt_text": "hi", "prompt_lang": "en", "top_k": 7.0, "seed": 42.0, "speed_factor": 1.25}
    given |= {"gpt": "a.ckpt", "sovits": "b.pth", "device": "cpu", "precision": "fp32"}
    ctx.api = RecordingApi()
    *_, last = synth.fn(False, **{**{k: c.value for k, c in by_name.items()}, **given})
    ((settings, body),) = ctx.api.calls
    assert (settings.gpt, settings.sovits, settings.device) == ("a.ckpt", "b.pth", "cpu")
    for key in ("text", "text_lang", "ref_audio_path", "prompt_text", "top_k", "seed", "speed_factor"):
        assert body[key] == given[key], key
    assert body["text_split_method"] == "cut5" and body["repetition_penalty"] == 1.35  # the tab's defaults
    assert "seed: 42" in last[3] and Path(last[1]).is_file()
