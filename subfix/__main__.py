"""The label editor alone: ``python -m subfix --list x.list [--port 9871] [--host 127.0.0.1] [--rows 10]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m subfix", description="SubFix: edit a .list label file")
    p.add_argument("--list", type=Path, default=None, help=".list file to open (path|speaker|lang|text)")
    p.add_argument("--port", type=int, default=9871, help="port to serve on (9871)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    p.add_argument("--rows", type=int, default=10, help="rows per page (10)")
    p.add_argument(
        "--lang", choices=("zh_CN", "en_US", "ja_JP", "auto"), default="auto", help="interface language"
    )
    args = p.parse_args(argv)
    if args.list is not None and not args.list.is_file():
        print(f"error: {args.list}: no such .list file", file=sys.stderr)
        return 2
    if args.rows < 1:
        print(f"error: --rows must be >= 1, got {args.rows}", file=sys.stderr)
        return 2
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    import gradio as gr

    from GPT_SoVITS.webui.app import CSS
    from GPT_SoVITS.webui.i18n import I18n
    from subfix.ui import HEAD, build_label_tab

    t = I18n(args.lang)
    with gr.Blocks(title="SubFix", analytics_enabled=False) as demo:
        # the page opens the file this browser had open, else --list (build_label_tab wires the page load)
        build_label_tab(t, str(args.list.resolve()) if args.list else "", rows=args.rows)
    demo.queue().launch(server_name=args.host, server_port=args.port, css=CSS, head=HEAD, footer_links=[])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
