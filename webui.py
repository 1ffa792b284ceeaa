"""Launcher of the WebUI. Until the WebUI lands this prints where the working entry points are."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("The WebUI is not built yet. Working entry points: python -m GPT_SoVITS.parity --help, "
          "python -m GPT_SoVITS.checkpoints inspect FILE")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
