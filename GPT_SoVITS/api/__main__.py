"""HTTP server: ``python -m GPT_SoVITS.api --gpt G.ckpt --sovits S.pth [--host 127.0.0.1 --port 9880]``.

Binds to loopback unless ``--host`` says otherwise. Reference and weight paths named in requests must lie
inside ``--allowed-roots`` (default: the working directory); uploads and presets are always allowed.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.paths import DEFAULT_BERT_DIR, DEFAULT_HUBERT_DIR, OUTPUT_DIR
from GPT_SoVITS.stage import add_decoding_args, apply_threads


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m GPT_SoVITS.api", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    p.add_argument("--port", type=int, default=9880, help="TCP port")
    p.add_argument("--gpt", type=Path, required=True, help="GPT weights (.ckpt)")
    p.add_argument("--sovits", type=Path, required=True, help="SoVITS weights (.pth)")
    p.add_argument("--bert", type=Path, default=DEFAULT_BERT_DIR, help="chinese-roberta-wwm-ext-large folder")
    p.add_argument("--no-bert", action="store_true", help="run without BERT (zero features; lower quality)")
    p.add_argument("--hubert", type=Path, default=DEFAULT_HUBERT_DIR, help="chinese-hubert-base folder")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"), help="model precision")
    add_decoding_args(p)
    p.add_argument(
        "--allowed-roots",
        type=Path,
        nargs="*",
        default=None,
        help="folders whose files requests may name (default: the working directory)",
    )
    p.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN' on every route")
    p.add_argument("--presets-dir", type=Path, default=OUTPUT_DIR / "voices", help="where voice presets live")
    p.add_argument("--upload-dir", type=Path, default=OUTPUT_DIR / "uploads", help="where uploads are stored")
    p.add_argument("--max-queue", type=int, default=32, help="requests queued or running before HTTP 429")
    p.add_argument("--workers", type=int, default=1, help="requests synthesised in parallel")
    p.add_argument(
        "--no-warmup",
        action="store_true",
        help="skip the start-up warm-up synthesis (the first request then compiles the decoding kernels)",
    )
    p.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error"), help="log level"
    )
    return p


def bind_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (checked before the minutes of model loading), or None."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            s.bind(infos[0][4])
    except OSError as e:
        return f"cannot listen on {host}:{port}: {e.strerror or e} (another server there? choose --port)"
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.max_queue < 1 or args.workers < 1:
        print("error: --max-queue and --workers must be at least 1", file=sys.stderr)
        return 2
    problem = bind_problem(args.host, args.port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    import uvicorn

    from GPT_SoVITS.api.app import create_app
    from GPT_SoVITS.api.presets import PresetStore
    from GPT_SoVITS.api.server import ServerState
    from GPT_SoVITS.inference.engine import TTSEngine

    apply_threads(args)  # once per process, before any worker decodes
    try:
        engine = TTSEngine(
            args.gpt,
            args.sovits,
            None if args.no_bert else args.bert,
            args.hubert,
            device=args.device,
            precision=args.precision,
            gpt_backend=args.gpt_backend,
        )
    except (UserError, OSError) as e:  # anything else is a bug: its traceback is the report
        print(f"error: {e}", file=sys.stderr)
        return 2
    roots = args.allowed_roots if args.allowed_roots is not None else [Path.cwd()]
    state = ServerState(
        engine,
        roots,
        args.upload_dir,
        PresetStore(args.presets_dir),
        args.token,
        args.max_queue,
        args.workers,
    )
    if not args.no_warmup:
        state.warmup.start(engine)  # /health says "warming" until it is done; requests are served meanwhile
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
