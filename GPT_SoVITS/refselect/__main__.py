"""Reference selector CLI: ``python -m GPT_SoVITS.refselect <command> ...`` for scripted sweeps.

Commands: role (add/list/show/delete), import, split, task, run, group, results, longtext, score, preset.
Bad input exits 2 with one line on stderr naming the file or field.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.inference.request import CUT_METHODS, V2_LANGUAGES
from GPT_SoVITS.paths import DEFAULT_BERT_DIR, DEFAULT_HUBERT_DIR, OUTPUT_DIR

DEFAULT_ROOT = OUTPUT_DIR / "refs"
DEFAULT_PRESETS = OUTPUT_DIR / "voices"  # the API's default --presets-dir


def _role_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("role", help="create, list, show or delete roles (one voice each)")
    p.add_argument("action", choices=("add", "list", "show", "delete"), help="what to do")
    p.add_argument("name", nargs="?", default="", help="role name (add, show, delete)")
    p.add_argument("--category", default="", help="category the role is grouped under (add)")


def _import_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="copy clips into a role from a .list file or audio files")
    p.add_argument("--role", required=True, help="role that receives the clips")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--list", type=Path, help=".list file (path|speaker|lang|text)")
    src.add_argument("--files", type=Path, nargs="+", help="audio files (no transcript)")
    p.add_argument("--audio-root", type=Path, help="folder that relative .list paths are under")
    p.add_argument("--create", action="store_true", help="create the role if it does not exist")


def _split_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("split", help="split, trim or window a clip into new clips")
    p.add_argument("clip", type=int, help="clip id")
    p.add_argument(
        "--mode", choices=("times", "pauses", "trim", "windows"), default="pauses", help="what to do"
    )
    p.add_argument("--at", type=float, nargs="+", help="split times in seconds (--mode times)")
    p.add_argument("--min-pause", type=float, default=0.25, help="shortest pause to split at, seconds")
    p.add_argument("--asr-model", type=Path, help="faster-whisper folder: split the transcript by word times")
    p.add_argument("--count", type=int, default=3, help="windows to extract (--mode windows)")


def _task_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("task", help="define a comparison task (variables x sentences)")
    p.add_argument("--name", default="task", help="a name to recognise the task by")
    p.add_argument("--clips", type=int, nargs="+", required=True, help="reference clip ids")
    p.add_argument("--gpt", nargs="+", required=True, help="GPT weight files (several: compare them)")
    p.add_argument("--sovits", nargs="+", required=True, help="SoVITS weight files (several: compare them)")
    p.add_argument("--sentence", action="append", required=True, help="a test sentence (repeat the flag)")
    p.add_argument("--text-lang", default="zh", choices=V2_LANGUAGES, help="language of the sentences")
    p.add_argument("--top-k", type=int, nargs="+", help="top_k values to compare")
    p.add_argument("--top-p", type=float, nargs="+", help="top_p values to compare")
    p.add_argument("--temperature", type=float, nargs="+", help="temperature values to compare")
    p.add_argument("--repetition-penalty", type=float, nargs="+", help="repetition penalty values")
    p.add_argument("--speed-factor", type=float, nargs="+", help="speed values to compare")
    p.add_argument("--text-split-method", choices=CUT_METHODS, nargs="+", help="cut methods to compare")
    p.add_argument("--seed", type=int, default=1, help="seed of every item (the same: fair comparison)")
    p.add_argument("--max-retries", type=int, help="guard regenerations per segment (request default 2)")


def _run_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="render a task (resumes where an interrupted run stopped)")
    p.add_argument("--task", type=int, required=True, help="task id")
    p.add_argument("--bert", type=Path, default=DEFAULT_BERT_DIR, help="chinese-roberta-wwm-ext-large folder")
    p.add_argument("--no-bert", action="store_true", help="run without BERT (zero features; lower quality)")
    p.add_argument("--hubert", type=Path, default=DEFAULT_HUBERT_DIR, help="chinese-hubert-base folder")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"), help="model precision")


def _group_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("group", help="speaker groups of a role (SoVITS reference-encoder embeddings)")
    p.add_argument("--role", help="role to embed and cluster")
    p.add_argument("--k", type=int, default=2, help="number of groups")
    p.add_argument("--sovits", type=Path, help="SoVITS weights whose reference encoder embeds the clips")
    p.add_argument("--gpt", type=Path, help="any GPT weights (the engine needs a pair; only SoVITS is used)")
    p.add_argument("--hubert", type=Path, default=DEFAULT_HUBERT_DIR, help="chinese-hubert-base folder")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument(
        "--move", type=int, nargs=2, metavar=("CLIP", "GROUP"), help="move a clip to a group (0: none)"
    )


def _review_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("results", help="list a task's results")
    p.add_argument("--task", type=int, required=True, help="task id")
    p.add_argument("--sort", default="outlier", help="outlier | duration | score | id | any parameter name")
    p.add_argument("--desc", action="store_true", help="descending order")
    p.add_argument("--min-score", type=int, help="only results scored at least this")
    p.add_argument("--flagged", action=argparse.BooleanOptionalAction, help="only (not) flagged results")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    p = sub.add_parser(
        "longtext", help="long-text check: the top-scored settings of a task on a long passage"
    )
    p.add_argument("--task", type=int, required=True, help="the scored task")
    p.add_argument("--text-file", type=Path, required=True, help="UTF-8 file with the long passage")
    p.add_argument("--top", type=int, default=3, help="how many of the best-scored distinct settings")
    p = sub.add_parser("score", help="score a result 1-5 (0 clears)")
    p.add_argument("result", type=int, help="result id")
    p.add_argument("score", type=int, choices=range(0, 6), help="1 (bad) .. 5 (best); 0 clears")
    p = sub.add_parser("preset", help="save a result's combination as a named API preset")
    p.add_argument("--result", type=int, required=True, help="result id")
    p.add_argument("--name", required=True, help="preset name (letters, digits, _ . -)")
    p.add_argument("--presets-dir", type=Path, default=DEFAULT_PRESETS, help="the API's presets folder")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m GPT_SoVITS.refselect", description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="library folder (database + audio)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    for add in (
        _role_parser,
        _import_parser,
        _split_parser,
        _task_parser,
        _run_parser,
        _group_parser,
        _review_parsers,
    ):
        add(sub)
    return p


def cmd_role(lib, args: argparse.Namespace) -> None:
    from GPT_SoVITS.refselect import library

    if args.action == "list":
        for r in library.roles(lib):
            print(f"{r['name']}\t{r['category']}\t{r['clips']} clip(s)")
        return
    if not args.name:
        raise UserError(f"role {args.action}: a role name is needed", "name")
    if args.action == "add":
        print(f"role {args.name} created (id {library.create_role(lib, args.name, args.category)})")
    elif args.action == "show":
        library.role(lib, args.name)
        for c in library.clips(lib, args.name):
            print(
                f"{c['id']}\t{c['duration']:.2f}s\t{c['loudness']:.1f}dB\t{c['language']}\t{c['transcript']}"
            )
    else:
        print(f"role {args.name} deleted; {library.delete_role(lib, args.name)} clip(s) moved to the trash")


def cmd_import(lib, args: argparse.Namespace) -> None:
    from GPT_SoVITS.refselect import library

    if args.create and lib.one("SELECT 1 FROM roles WHERE name = ?", (args.role,)) is None:
        library.create_role(lib, args.role)
    if args.list:
        report = library.import_list(lib, args.role, args.list, args.audio_root)
    else:
        report = library.import_files(lib, args.role, args.files)
    for line in report.skipped:
        print(f"skipped: {line}")
    print(report.summary())


def cmd_split(lib, args: argparse.Namespace) -> None:
    from GPT_SoVITS.refselect import edit

    if args.mode == "times" and not args.at:
        raise UserError("--at: split times are needed with --mode times", "at")
    if args.mode in ("times", "pauses"):
        times = args.at if args.mode == "times" else None
        report = edit.split_clip(lib, args.clip, times, args.min_pause, args.asr_model)
    elif args.mode == "trim":
        report = edit.trim_clip(lib, args.clip)
    else:
        report = edit.window_clips(lib, args.clip, args.count)
    note = f"; transcript split by {report.text_method}" if report.text_method else ""
    print(f"new clips {' '.join(map(str, report.added))} at {report.times} s{note}")


def cmd_task(lib, args: argparse.Namespace) -> None:
    from GPT_SoVITS.refselect.tasks import KNOBS, TaskSpec, create_task

    sweep = {k: getattr(args, k) for k in KNOBS if getattr(args, k)}
    fixed = {"seed": args.seed, **({"max_retries": args.max_retries} if args.max_retries is not None else {})}
    spec = TaskSpec(args.clips, args.gpt, args.sovits, args.sentence, args.text_lang, sweep, fixed)
    task_id = create_task(lib, args.name, spec)
    print(f"task {task_id}: {spec.size()} item(s)")


def cmd_run(lib, args: argparse.Namespace) -> None:
    from GPT_SoVITS.refselect.render import EngineOptions, render_task

    opts = EngineOptions(
        None if args.no_bert else str(args.bert), str(args.hubert), args.device, args.precision
    )
    stats = render_task(lib, args.task, opts)
    print(
        f"task {args.task}: {stats.rendered} rendered, {stats.skipped} already done, "
        f"{stats.weight_loads} weight load(s), {stats.seconds:.1f} s"
    )


def cmd_group(lib, args: argparse.Namespace) -> None:
    from GPT_SoVITS.refselect import grouping

    if args.move:
        grouping.move_clip(lib, *args.move)
        print(f"clip {args.move[0]} moved to group {args.move[1]}")
        return
    if not (args.role and args.sovits and args.gpt):
        raise UserError("group: --role, --sovits and --gpt are needed (or --move CLIP GROUP)", "role")
    from GPT_SoVITS.refselect.render import EngineOptions, default_engine

    opts = EngineOptions(None, str(args.hubert), args.device)
    made = grouping.embed_role(
        lib, args.role, str(args.sovits), lambda: default_engine(str(args.gpt), str(args.sovits), opts)
    )
    for group, ids in grouping.group_role(lib, args.role, str(args.sovits), args.k).items():
        print(f"group {group}: clips {' '.join(map(str, ids))}")
    print(f"{made} clip(s) embedded now")


def cmd_results(lib, args: argparse.Namespace) -> None:
    from GPT_SoVITS.refselect.review import results

    rows = results(lib, args.task, args.sort, args.desc, args.min_score, args.flagged)
    for r in rows:
        if args.json:
            keep = ("id", "idx", "duration", "outlier", "score", "flags", "path", "params")
            print(json.dumps({k: r[k] for k in keep}, ensure_ascii=False))
        else:
            knobs = {
                k: v
                for k, v in r["params"].items()
                if k not in ("text", "prompt_text", "ref", "gpt", "sovits")
            }
            score = r["score"] if r["score"] is not None else "-"
            print(f"{r['id']}\t{r['duration']:.2f}s\t{score}\t{knobs}\t{'; '.join(r['flags'])}")


def cmd_longtext(lib, args: argparse.Namespace) -> None:
    from GPT_SoVITS.refselect.tasks import followup_task, task

    new_id = followup_task(lib, args.task, args.text_file.read_text(encoding="utf-8"), args.top)
    print(f"task {new_id}: {task(lib, new_id)['total']} item(s); render it with: run --task {new_id}")


def cmd_score(lib, args: argparse.Namespace) -> None:
    from GPT_SoVITS.refselect.review import set_score

    set_score(lib, args.result, args.score or None)
    print(f"result {args.result}: score {args.score or 'cleared'}")


def cmd_preset(lib, args: argparse.Namespace) -> None:
    from GPT_SoVITS.refselect.review import save_preset

    preset = save_preset(lib, args.result, args.name, args.presets_dir)
    print(f"preset {preset.name} saved in {args.presets_dir / preset.name}")


COMMANDS = {
    "role": cmd_role,
    "import": cmd_import,
    "split": cmd_split,
    "task": cmd_task,
    "run": cmd_run,
    "group": cmd_group,
    "results": cmd_results,
    "longtext": cmd_longtext,
    "score": cmd_score,
    "preset": cmd_preset,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    from GPT_SoVITS.refselect.db import Library

    try:
        COMMANDS[args.command](Library(args.root), args)
    except (ValueError, OSError) as e:  # UserError and the engine's CheckpointError are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"error: rendering failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
