"""Server-level behaviour that needs its own process: two workers never mix voices, the start-up warm-up,
a port that cannot be bound."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.api.conftest import free_port, start_server, stop_server
from tests.api.test_api import TEXT, make_presets
from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_two_workers_never_mix_voices(tmp_path: Path, golden_models, bert_dir, hubert_dir, refs) -> None:
    """Two presets with different voices, requests interleaved on a ``--workers 2`` server (two syntheses
    at once in one process): each answer equals the same request sent alone."""
    roots = [refs["zh"].parent, golden_models[0].parent]
    srv = start_server(tmp_path, golden_models, bert_dir, hubert_dir, roots, "--workers", "2")
    try:
        make_presets(srv, refs)
        bodies = [{"text": TEXT, "preset": ("alice", "bob")[i % 2]} for i in range(12)]
        bodies += [{"text": TEXT, "preset": "bob", "streaming_mode": 1}, {"text": TEXT, "preset": "alice"}]
        alone = [srv.post("/tts", json=b).content for b in bodies[:2]]
        assert alone[0] != alone[1]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda b: srv.post("/tts", json=b), bodies))
        for body, r in zip(bodies, answers, strict=True):
            assert r.status_code == 200, r.text
            expected = alone[0] if body["preset"] == "alice" else alone[1]
            if body.get("streaming_mode"):  # one streaming wav header (sizes unknown) then the same frames
                assert r.content[44:] == expected[44:]
            else:
                assert r.content == expected, body
    finally:
        stop_server(srv)


@pytest.mark.slow
def test_warmup_runs_at_start_and_can_be_skipped(tmp_path: Path, golden_models, bert_dir, hubert_dir, refs):
    roots = [refs["zh"].parent]
    warm = start_server(tmp_path / "warm", golden_models, bert_dir, hubert_dir, roots)
    cold = start_server(tmp_path / "cold", golden_models, bert_dir, hubert_dir, roots, "--no-warmup")
    try:
        health = requests.get(warm.url + "/health", timeout=10).json()
        assert health["status"] == "ok" and health["warmup_s"] > 0 and health["warmup_error"] is None
        assert "warm-up done" in warm.log.read_text()
        health = requests.get(cold.url + "/health", timeout=10).json()
        assert health["status"] == "ok" and health["warmup_s"] is None
    finally:
        stop_server(warm)
        stop_server(cold)


def test_port_in_use_is_one_clear_line_before_loading(tmp_path: Path) -> None:
    import socket

    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        cmd = [sys.executable, "-m", "GPT_SoVITS.api", "--port", str(port)]
        cmd += ["--gpt", str(tmp_path / "absent.ckpt"), "--sovits", str(tmp_path / "absent.pth")]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr


@pytest.mark.slow
def test_starts_and_serves_under_a_cpu_hog(tmp_path: Path, golden_models, bert_dir, hubert_dir, refs) -> None:
    """A busy machine (four busy loops on top of whatever runs) slows start-up but never fails it: the
    server listens, answers /health while it warms up, then synthesises."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(4)]
    try:
        roots = [refs["zh"].parent]
        srv = start_server(tmp_path, golden_models, bert_dir, hubert_dir, roots, until=("warming", "ok"))
        try:
            assert requests.get(srv.url + "/health", timeout=60).status_code == 200
            body = {"text": TEXT, "text_lang": "zh", "ref_audio_path": str(refs["zh"]), "seed": 1}
            r = srv.post("/tts", json={**body, "prompt_text": "今天天气很好。", "prompt_lang": "zh"})
            assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
        finally:
            stop_server(srv)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
