"""Start the WebUI: ``python webui.py [--port 9874] [--host 127.0.0.1] [--share] [--auth user:pass|FILE]
[--lang zh_CN|en_US|ja_JP|auto]``.

A public ``--share`` link is never opened without a login: when no ``--auth`` is given, a password is
generated and printed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import time
from pathlib import Path

LANGS = ("zh_CN", "en_US", "ja_JP", "auto")
# How long the launcher waits for its own server to answer before it gives up. Gradio's own self-check
# gives up after ~15 s, which a busy 2-core machine (load ~10) exceeds while the first page is built.
SELF_CHECK_DEADLINE_S = 180.0


class AuthError(ValueError):
    pass


def parse_auth(spec: str) -> list[tuple[str, str]]:
    """``user:pass``, or a file of ``user:pass`` lines (blank lines and ``#`` comments skipped)."""
    path = Path(spec)
    if path.is_file():
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
        pairs = [(i, ln) for i, ln in enumerate(lines, 1) if ln and not ln.startswith("#")]
        where = [f"{path}:{i}" for i, _ in pairs]
        items = [ln for _, ln in pairs]
    else:
        where, items = ["--auth"], [spec]
    out = []
    for loc, item in zip(where, items, strict=True):
        user, sep, password = item.partition(":")
        if not sep or not user or not password:
            raise AuthError(f"{loc}: expected user:password")
        out.append((user, password))
    if not out:
        raise AuthError(f"{spec}: no user:password line")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python webui.py", description="GPT-SoVITS WebUI")
    p.add_argument("--port", type=int, default=9874, help="port to serve on (9874)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1; 0.0.0.0 for the LAN)")
    p.add_argument(
        "--share", action="store_true", help="also open a public Gradio link (always with a login)"
    )
    p.add_argument("--auth", default=None, help="user:password, or a file of user:password lines")
    p.add_argument("--lang", choices=LANGS, default="auto", help="interface language (auto: the system's)")
    p.add_argument("--root", type=Path, default=None, help="working folder for outputs, logs and weights")
    p.add_argument("--no-label", action="store_true", help="leave out the label editor tab")
    return p.parse_args(argv)


def resolve_auth(auth_spec: str | None, share: bool) -> tuple[list[tuple[str, str]] | None, str]:
    """(logins, message to print). A public link always gets a login: a generated password if none."""
    auth = parse_auth(auth_spec) if auth_spec else None
    if share and auth is None:
        password = secrets.token_urlsafe(12)
        return [
            ("admin", password)
        ], f"--share without --auth: log in as user 'admin' with password {password}"
    return auth, ""


def wait_until_answering(url: str, deadline_s: float = SELF_CHECK_DEADLINE_S) -> bool:
    """True once ``url`` answers HTTP (any status below 500), polling until ``deadline_s`` has passed."""
    import httpx

    end = time.monotonic() + deadline_s
    while True:
        try:
            if httpx.head(url, timeout=10.0, verify=False).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() >= end:
            return False
        time.sleep(0.5)


def patient_self_check() -> None:
    """Replace Gradio's launch self-check (a few 3-s tries) with one that waits up to the deadline.

    Gradio checks that its local URL answers right after starting the server and, when it does not,
    refuses to start without a share link ("When localhost is not accessible..."). On a busy machine the
    first answer simply takes longer; waiting is the right response, failing is not.
    """
    import gradio.networking

    gradio.networking.url_ok = wait_until_answering


def launch_failure(error: Exception, host: str, port: int) -> str:
    """The one-line reason shown when the server cannot start."""
    text = str(error)
    if "localhost is not accessible" in text:
        return (
            f"the WebUI server on http://{host}:{port} did not answer within {SELF_CHECK_DEADLINE_S:.0f} s "
            "(the machine is too busy, or a proxy intercepts local addresses: set NO_PROXY=127.0.0.1)"
        )
    if isinstance(error, OSError):
        return f"cannot serve on {host}:{port}: {text} (is another program using the port? try --port)"
    return text


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        auth, message = resolve_auth(args.auth, args.share)
    except AuthError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if message:
        print(message, flush=True)
    # SIGTERM ends like Ctrl+C, so the exit handlers stop running jobs and the API process with the UI
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from GPT_SoVITS.webui.app import CSS, build_app
    from subfix.ui import HEAD, build_label_tab

    demo = build_app(args.lang, args.root, label_tab=None if args.no_label else build_label_tab)
    root = demo.ctx.root
    patient_self_check()
    try:
        demo.queue(default_concurrency_limit=8).launch(
            server_name=args.host,
            server_port=args.port,
            share=args.share,
            auth=auth,
            css=CSS,
            head=HEAD,
            allowed_paths=[str(root)],
            footer_links=[],
            show_error=True,
        )
    except (OSError, ValueError) as e:
        print(f"error: {launch_failure(e, args.host, args.port)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
