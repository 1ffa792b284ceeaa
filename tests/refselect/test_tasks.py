"""Comparison tasks on tiny v1 models: one engine per run, one weight load per pair, complete results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.progress import read_progress
from GPT_SoVITS.refselect import library, review
from GPT_SoVITS.refselect.db import Library
from GPT_SoVITS.refselect.render import EngineOptions, render_task
from GPT_SoVITS.refselect.tasks import TaskSpec, create_task, pending_items, task, task_folder

SENTENCES = ["今天天气很好。", "我们去公园。", "她说你好。"]


@pytest.fixture()
def role_lib(lib: Library, speech_dir: Path) -> Library:
    library.create_role(lib, "alice")
    library.import_list(lib, "alice", speech_dir / "voice.list")
    return lib


def make_spec(weights, clips: list[int], temps=(0.6, 1.0), gpts=None) -> TaskSpec:
    gpt, sovits, _ = weights
    return TaskSpec(
        clips=clips,
        gpt=[str(g) for g in (gpts or [gpt])],
        sovits=[str(sovits)],
        sentences=SENTENCES,
        text_lang="zh",
        sweep={"temperature": list(temps)},
        fixed={"seed": 5, "max_retries": 0},
    )


def fast_engine(gpt: str, sovits: str, opts: EngineOptions):
    """The real engine with a tight token limit: random GPTs rarely say EOS (keeps the tests fast)."""
    from GPT_SoVITS.inference.engine import TTSEngine
    from GPT_SoVITS.inference.guard import GuardConfig

    guard = GuardConfig(max_tokens_per_phone=2.0, slack_tokens=4)
    return TTSEngine(gpt, sovits, opts.bert, opts.hubert, device=opts.device, guard=guard)


class Counting:
    """Builds the real engine, counting constructions and weight switches (public API only)."""

    def __init__(self) -> None:
        self.built = self.gpt_switches = self.sovits_switches = 0

    def __call__(self, gpt: str, sovits: str, opts: EngineOptions):
        self.built += 1
        engine = fast_engine(gpt, sovits, opts)
        counter = self

        class Spy:
            def __getattr__(self, name: str):
                return getattr(engine, name)

            def set_gpt_weights(self, path: str) -> None:
                counter.gpt_switches += 1
                engine.set_gpt_weights(path)

            def set_sovits_weights(self, path: str) -> None:
                counter.sovits_switches += 1
                engine.set_sovits_weights(path)

        return Spy()


@pytest.mark.slow
def test_3_refs_x_2_temperatures_x_3_sentences_load_models_once(role_lib: Library, tiny_pair, hubert) -> None:
    clips = [c["id"] for c in library.clips(role_lib, "alice")]
    task_id = create_task(role_lib, "sweep", make_spec(tiny_pair, clips))
    assert task(role_lib, task_id)["total"] == 18
    counting = Counting()
    stats = render_task(role_lib, task_id, EngineOptions(None, str(hubert), "cpu"), counting)
    assert (counting.built, counting.gpt_switches, counting.sovits_switches) == (1, 0, 0)
    assert stats.rendered == 18 and stats.weight_loads == 1
    info = task(role_lib, task_id)
    assert (info["state"], info["done"]) == ("done", 18)
    rows = review.results(role_lib, task_id, sort="duration")
    assert len(rows) == 18 and {r["params"]["temperature"] for r in rows} == {0.6, 1.0}
    assert {r["params"]["clip_id"] for r in rows} == set(clips)
    for r in rows:
        wav, sr = sf.read(r["path"])
        assert r["duration"] == pytest.approx(len(wav) / sr, abs=1e-3) and r["meta"]["seed"] == 5
    assert [r["duration"] for r in rows] == sorted(r["duration"] for r in rows)
    events = read_progress(task_folder(role_lib, task_id))
    assert events[0]["event"] == "start" and events[-1] == {**events[-1], "event": "end", "ok": True}
    assert [e["done"] for e in events if e["event"] == "item"] == list(range(1, 19))


def test_two_gpt_weights_switch_once(role_lib: Library, tiny_pair, hubert) -> None:
    clips = [library.clips(role_lib, "alice")[0]["id"]]
    spec = make_spec(tiny_pair, clips, temps=(1.0,), gpts=[tiny_pair[0], tiny_pair[2]])
    spec.sentences = spec.sentences[:1]
    task_id = create_task(role_lib, "epochs", spec)
    counting = Counting()
    render_task(role_lib, task_id, EngineOptions(None, str(hubert), "cpu"), counting)
    assert (counting.built, counting.gpt_switches, counting.sovits_switches) == (1, 1, 0)
    assert pending_items(role_lib, task_id) == []
    gpts = [r["params"]["gpt"] for r in review.results(role_lib, task_id, sort="id")]
    assert sorted(gpts) == sorted(map(str, (tiny_pair[0], tiny_pair[2])))


def test_bad_tasks_name_the_field_or_file(role_lib: Library, tiny_pair, tmp_path: Path) -> None:
    clips = [library.clips(role_lib, "alice")[0]["id"]]
    spec = make_spec(tiny_pair, clips)
    spec.gpt = [str(tmp_path / "gone-e9.ckpt")]
    with pytest.raises(UserError, match=r"gone-e9\.ckpt: weights file not found"):
        create_task(role_lib, "x", spec)
    spec = make_spec(tiny_pair, clips, temps=(0.0,))
    with pytest.raises(UserError, match="temperature"):
        create_task(role_lib, "x", spec)
    spec = make_spec(tiny_pair, clips)
    spec.sweep["seed"] = [1, 2]
    with pytest.raises(UserError, match="seed: cannot be swept"):
        create_task(role_lib, "x", spec)


def test_weights_deleted_after_the_task_was_made(
    role_lib: Library, tiny_pair, hubert, tmp_path: Path
) -> None:
    import shutil

    moved = Path(shutil.copy(tiny_pair[0], tmp_path / "soon-gone-e1.ckpt"))
    clips = [library.clips(role_lib, "alice")[0]["id"]]
    task_id = create_task(role_lib, "x", make_spec(tiny_pair, clips, gpts=[moved]))
    moved.unlink()
    with pytest.raises(UserError, match=r"soon-gone-e1\.ckpt: weights file not found"):
        render_task(role_lib, task_id, EngineOptions(None, str(hubert), "cpu"))
    assert json.loads(role_lib.one("SELECT spec FROM tasks WHERE id = ?", (task_id,))["spec"])["gpt"] == [
        str(moved)
    ]
