"""The pretrained downloader against a local HTTP server that answers like HuggingFace and ModelScope."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from GPT_SoVITS import download, pretrained
from GPT_SoVITS.download import DownloadError

REPO = "lj1995/GPT-SoVITS"
ROOT = Path(__file__).resolve().parents[2]


class FakeHub:
    """Files served under /<repo>/resolve/main/<path>, listed by /api/models/<repo>/tree/main (HF), and
    a ModelScope listing + resolve route. Honours Range; can cut a response short or corrupt a file."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.listed = dict(files)  # what the listing claims (checksums of these bytes)
        self.ranges: list[str | None] = []
        self.cut_after: int | None = None  # send only this many bytes of the next response, then close

    def tree(self) -> list[dict]:
        out = []
        for path, data in self.listed.items():
            item = {"type": "file", "path": path, "size": len(data)}
            if len(data) > 64:  # "LFS" files carry sha256, small ones the git blob id
                item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data)}
                item["oid"] = "0" * 40
            else:
                item["oid"] = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            out.append(item)
        return out

    def handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(
                self, code: int, body: bytes, headers: dict[str, str] | None = None, cut: bool = False
            ) -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if cut and hub.cut_after is not None:
                    body, hub.cut_after = body[: hub.cut_after], None
                    self.wfile.write(body)
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == f"/api/models/{REPO}/tree/main":
                    return self._send(
                        200, json.dumps(hub.tree()).encode(), {"Content-Type": "application/json"}
                    )
                if url.path.startswith("/api/v1/models/") and url.path.endswith("/repo/files"):
                    files = [
                        {"Path": p, "Size": len(d), "Sha256": hashlib.sha256(d).hexdigest(), "Type": "blob"}
                        for p, d in hub.listed.items()
                    ]
                    return self._send(200, json.dumps({"Data": {"Files": files}}).encode())
                for prefix in (f"/{REPO}/resolve/main/", "/models/ms/repo/resolve/master/"):
                    if url.path.startswith(prefix):
                        name = unquote(url.path[len(prefix) :])
                        if name not in hub.files:
                            return self._send(404, b"not found")
                        data = hub.files[name]
                        rng = self.headers.get("Range")
                        hub.ranges.append(rng)
                        if rng:
                            start = int(rng.split("=")[1].split("-")[0])
                            end = len(data) - 1
                            hdr = {"Content-Range": f"bytes {start}-{end}/{len(data)}"}
                            return self._send(206, data[start:], hdr, cut=True)
                        return self._send(200, data, cut=True)
                return self._send(404, b"no route")

        return H


@pytest.fixture
def hub():
    rng = __import__("random").Random(0)
    files = {
        p: bytes(rng.getrandbits(8) for _ in range(3000 + 17 * i)) for i, p in enumerate(pretrained.BERT)
    }
    files["chinese-roberta-wwm-ext-large/config.json"] = b'{"hidden": 1024}'  # small: a git blob id
    fake = FakeHub(files)
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()


def test_downloads_and_verifies_every_file(hub: FakeHub, tmp_path: Path) -> None:
    done = download.download(tmp_path, list(pretrained.BERT), hub.url, REPO)
    assert sorted(done) == sorted(pretrained.BERT)
    for p in pretrained.BERT:
        assert (tmp_path / p).read_bytes() == hub.files[p]
    assert not list(tmp_path.rglob("*.part"))
    assert download.download(tmp_path, list(pretrained.BERT), hub.url, REPO) == []  # present: nothing to do


def test_an_interrupted_file_resumes_with_a_range_request(hub: FakeHub, tmp_path: Path) -> None:
    name = pretrained.BERT[1]
    hub.cut_after = 1000
    with pytest.raises(DownloadError, match=r"interrupted|size"):
        download.download(tmp_path, [name], hub.url, REPO)
    part = tmp_path / (name + ".part")
    assert not (tmp_path / name).exists()
    have = part.stat().st_size  # the bytes that arrived are kept ...
    assert have == 1000 and part.read_bytes() == hub.files[name][:have]
    hub.ranges.clear()
    download.download(tmp_path, [name], hub.url, REPO)  # ... and continued
    assert (tmp_path / name).read_bytes() == hub.files[name]
    assert hub.ranges == [f"bytes={have}-"]


def test_a_corrupt_file_is_refused_and_not_kept(hub: FakeHub, tmp_path: Path) -> None:
    name = pretrained.BERT[2]
    hub.files[name] = hub.files[name][:-1] + bytes([hub.files[name][-1] ^ 1])  # listing keeps the true hash
    with pytest.raises(DownloadError, match="checksum"):
        download.download(tmp_path, [name], hub.url, REPO)
    assert not (tmp_path / name).exists() and not (tmp_path / (name + ".part")).exists()
    small = pretrained.BERT[0]
    hub.files[small] = b'{"hidden": 1025}'
    with pytest.raises(DownloadError, match="checksum"):
        download.download(tmp_path, [small], hub.url, REPO)


def test_modelscope_archive_layout(hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in pretrained.BERT:
            z.writestr(f"pretrained_models/{p}", hub.files[p])
    hub.files = {download.ARCHIVE: buf.getvalue()}
    hub.listed = dict(hub.files)
    monkeypatch.setitem(download.HUBS, "local-ms", ("ms", hub.url))
    done = download.download(tmp_path, list(pretrained.BERT), "local-ms", "ms/repo")
    assert sorted(done) == sorted(pretrained.BERT)
    assert (tmp_path / pretrained.BERT[1]).stat().st_size == 3017


def test_cli_reports_a_missing_file_and_writes_progress(hub: FakeHub, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "GPT_SoVITS.download", "--hub", hub.url, "--dest", str(tmp_path)]
    ok = subprocess.run(
        [*cmd, "--files", *pretrained.BERT], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [*cmd, "--version", "v2"], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert bad.returncode == 1 and "has no chinese-hubert-base/config.json" in bad.stderr
    events = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "end" and events[-1]["ok"] is False
    assert any(e["event"] == "end" and e["ok"] for e in events)
