"""Review: scores (last write wins with two writers), sorting, and a preset used by the API and the CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.presets import PresetStore
from GPT_SoVITS.refselect import library, review
from GPT_SoVITS.refselect.db import Library
from GPT_SoVITS.refselect.render import EngineOptions, render_task
from GPT_SoVITS.refselect.tasks import TaskSpec, create_task
from tests.conftest import REPO_ROOT
from tests.refselect.test_tasks import fast_engine


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, speech_dir: Path, tiny_pair, hubert: Path) -> tuple[Library, int]:
    """A rendered task: 2 references x 2 temperatures x 1 sentence on the tiny models."""
    lib = Library(tmp_path_factory.mktemp("review") / "refs")
    library.create_role(lib, "alice")
    clips = library.import_list(lib, "alice", speech_dir / "voice.list").added[:2]
    spec = TaskSpec(
        clips, [str(tiny_pair[0])], [str(tiny_pair[1])], ["今天天气很好。"], "zh",
        {"temperature": [0.6, 1.0]}, {"seed": 5, "max_retries": 0},
    )  # fmt: skip
    task_id = create_task(lib, "review", spec)
    render_task(lib, task_id, EngineOptions(None, str(hubert), "cpu"), fast_engine)
    return lib, task_id


def test_scores_sorting_and_filters(rendered) -> None:
    lib, task_id = rendered
    rows = review.results(lib, task_id, sort="temperature")
    assert [r["params"]["temperature"] for r in rows] == [0.6, 0.6, 1.0, 1.0]
    review.set_score(lib, rows[0]["id"], 4)
    review.set_score(lib, rows[1]["id"], 2)
    assert [r["id"] for r in review.results(lib, task_id, min_score=3)] == [rows[0]["id"]]
    by_score = review.results(lib, task_id, sort="score", descending=True)
    assert [r["score"] for r in by_score][:2] == [4, 2]
    outliers = review.results(lib, task_id)  # speaking-rate outliers first
    assert [r["outlier"] for r in outliers] == sorted((r["outlier"] for r in outliers), reverse=True)
    durations = [r["duration"] for r in review.results(lib, task_id, sort="duration")]
    assert durations == sorted(durations)
    with pytest.raises(UserError, match=r"score: must be 1\.\.5"):
        review.set_score(lib, rows[0]["id"], 7)
    with pytest.raises(UserError, match="unknown result"):
        review.set_score(lib, 12345, 3)


def test_two_writers_scoring_the_same_result(rendered) -> None:
    lib, task_id = rendered
    target = review.results(lib, task_id, sort="id")[2]["id"]
    errors: list[BaseException] = []

    def writer(score: int) -> None:
        try:
            for _ in range(25):
                review.set_score(lib, target, score)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert review.result(lib, target)["score"] in (1, 5)
    review.set_score(lib, target, 3)  # the last write wins
    assert review.result(lib, target)["score"] == 3 and lib.integrity() == "ok"


@pytest.mark.slow
def test_preset_from_a_result_serves_the_api_and_the_cli(rendered, tmp_path: Path, tiny_pair, hubert) -> None:
    from fastapi.testclient import TestClient

    from GPT_SoVITS.api.app import create_app
    from GPT_SoVITS.api.server import ServerState

    lib, task_id = rendered
    best = review.results(lib, task_id, sort="id")[1]
    preset = review.save_preset(lib, best["id"], "alice-best", tmp_path / "voices")
    assert preset.knobs["temperature"] == best["params"]["temperature"] and preset.knobs["seed"] == 5
    assert preset.prompt_text == best["params"]["prompt_text"] and preset.gpt_weights == str(tiny_pair[0])
    assert PresetStore(tmp_path / "voices").names() == ["alice-best"]
    # the API (its own engine) synthesises with the preset: the same audio as the task's result
    engine = fast_engine(str(tiny_pair[0]), str(tiny_pair[1]), EngineOptions(None, str(hubert), "cpu"))
    state = ServerState(engine, [tmp_path], tmp_path / "uploads", PresetStore(tmp_path / "voices"))
    with TestClient(create_app(state)) as client:
        answer = client.post("/tts", json={"text": best["params"]["text"], "preset": "alice-best"})
    assert answer.status_code == 200, answer.text
    api_wav, sr = sf.read(io.BytesIO(answer.content), dtype="float32")
    task_wav, task_sr = sf.read(best["path"], dtype="float32")
    assert sr == task_sr and len(api_wav) == len(task_wav)
    assert np.allclose(api_wav, task_wav, atol=3 / 32768)
    # the CLI: weights, reference, prompt and knobs all come from the preset
    out, meta = tmp_path / "cli.wav", tmp_path / "meta.json"
    cmd = [sys.executable, "-m", "GPT_SoVITS.inference", "--preset", "alice-best", "--presets-dir",
           str(tmp_path / "voices"), "--no-bert", "--hubert", str(hubert), "--device", "cpu",
           "--text", "我们去公园。", "--out", str(out), "--metadata", str(meta),
           "--max-retries", "0"]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(meta.read_text(encoding="utf-8"))["seed"] == 5 and sf.info(str(out)).frames > 0
    cmd[cmd.index("alice-best")] = "nobody"
    done = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=600, check=False
    )
    assert done.returncode == 2 and "unknown preset 'nobody'" in done.stderr


@pytest.mark.slow
def test_long_text_check_renders_the_top_scored_settings(rendered, hubert) -> None:
    from GPT_SoVITS.refselect.tasks import followup_task, task

    lib, task_id = rendered
    rows = review.results(lib, task_id, sort="id")
    for r in rows:
        review.set_score(lib, r["id"], None)
    with pytest.raises(UserError, match="no scored results"):
        followup_task(lib, task_id, "长文本。")
    review.set_score(lib, rows[3]["id"], 5)
    review.set_score(lib, rows[0]["id"], 4)
    review.set_score(lib, rows[1]["id"], 1)
    passage = "今天天气很好，我们去公园散步吧。她说你好。明天见！"
    new_id = followup_task(lib, task_id, passage, top=2)
    assert task(lib, new_id)["total"] == 2
    render_task(lib, new_id, EngineOptions(None, str(hubert), "cpu"), fast_engine)
    done = review.results(lib, new_id, sort="id")
    assert [r["params"]["text"] for r in done] == [passage, passage]
    keep = ("clip_id", "temperature", "seed", "gpt")
    assert [{k: r["params"][k] for k in keep} for r in done] == [
        {k: rows[i]["params"][k] for k in keep} for i in (3, 0)
    ]  # best first
    assert all(len(r["meta"]["segments"]) >= 2 for r in done)  # the passage was cut into segments
