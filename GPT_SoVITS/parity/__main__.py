"""Run the parity groups on a golden folder and print one row per case.

    python -m GPT_SoVITS.parity --golden ../shared/parity/golden [--only gpt,decode]

Exit status 0 only if every selected case passes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from GPT_SoVITS.parity.core import GROUP_MODULES, default_groups, run_group


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m GPT_SoVITS.parity", description=__doc__.splitlines()[0])
    p.add_argument(
        "--golden", type=Path, required=True, help="golden folder laid out like shared/parity/golden"
    )
    p.add_argument(
        "--only",
        default="",
        help=f"comma-separated groups to run (default: all of {', '.join(GROUP_MODULES)})",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.golden.is_dir():
        print(f"error: golden folder not found: {args.golden}", file=sys.stderr)
        return 2
    groups = [g.strip() for g in args.only.split(",") if g.strip()] or default_groups(args.golden)
    unknown = [g for g in groups if g not in GROUP_MODULES]
    if unknown:
        print(
            f"error: unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUP_MODULES)}",
            file=sys.stderr,
        )
        return 2
    print(f"groups: {', '.join(groups)}")
    print("group | case | max abs err | tolerance | ok")
    results = []
    for group in groups:
        for result in run_group(args.golden, group):
            print(result.row(), flush=True)
            results.append(result)
    passed = sum(r.ok for r in results)
    print(f"{passed}/{len(results)} cases pass")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
