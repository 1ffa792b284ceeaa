"""The runtime every stage CLI shares: one parser convention, one error policy, shared device flags.

A stage module has ``build_parser()`` (made with :func:`stage_parser`) and ``run(args) -> int``, and its
``main(argv=None)`` is ``stage_main(argv, build_parser(), run, ...)``. :func:`stage_main` parses, sets up
logging, runs, and turns what ``run`` raises into an exit code:

- a :class:`~GPT_SoVITS.errors.UserError` (bad flag, input file, folder or model the user can fix; every
  :class:`StageError` is one): one line ``error: ...`` naming the field or file, exit 2;
- a :class:`StageFailure` (the environment failed, not the input and not the code: network, GPU memory):
  one line, exit 1;
- anything else is a bug in the toolkit: the traceback is logged, one closing line, exit 1.

Each failure also leaves an ``end`` event (``ok: false``) in the stage's progress file, for the WebUI.
A batch stage skips an item only for :data:`ITEM_ERRORS` (the item's own bad audio or text, an
unreadable file), names it, goes on, and exits non-zero at the end; any other exception propagates.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.progress import ProgressLog

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

# Errors that mean "this one item cannot be processed" in a batch stage: the item's own bad audio or text
# (UserError subclasses: AudioError, FrontendError, BertError, ...) or a file the OS cannot read.
ITEM_ERRORS: tuple[type[BaseException], ...] = (UserError, OSError)
PRECISIONS = ("fp32", "fp16", "bf16")


class StageError(UserError):
    """The stage cannot run as asked (a flag, an input, a model folder): one line, exit 2.

    ``record=False`` where writing a progress file into the stage's folder would be wrong (it is the input).
    """

    def __init__(self, message: str, field: str | None = None, record: bool = True) -> None:
        super().__init__(message, field)
        self.record = record


class StageFailure(RuntimeError):
    """The stage could not finish for a reason outside the input and the code (network, GPU memory,
    a download that fails verification): one line, exit 1, no traceback."""


def require_file(path: Path | None, flag: str) -> None:
    """StageError naming ``flag`` unless ``path`` is None or an existing file."""
    if path is not None and not Path(path).is_file():
        raise StageError(f"{flag} {path}: file not found", field=flag)


def stage_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of ``python -m <module>``: the module docstring's first line as description, ``-v``."""
    description = (doc or "").strip().split("\n", 1)[0]
    p = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def add_device_args(p: argparse.ArgumentParser, precision: str | None = "fp32", auto: bool = False) -> None:
    """``--device`` and, unless ``precision`` is None, ``--precision`` (``auto``: fp16 on CUDA, else fp32)."""
    p.add_argument(
        "--device", default="auto", help="auto (first CUDA device, else CPU) | cpu | cuda | cuda:N"
    )
    if precision is not None:
        choices = ("auto", *PRECISIONS) if auto else PRECISIONS
        hint = "; auto: fp16 on CUDA, else fp32" if auto else ""
        p.add_argument("--precision", default=precision, choices=choices, help=f"model precision{hint}")


def add_decoding_args(p: argparse.ArgumentParser) -> None:
    """``--gpt-backend`` and ``--threads``: how the GPT decodes, chosen once for the process (CLI, API)."""
    p.add_argument(
        "--gpt-backend",
        default="auto",
        choices=("auto", "torch", "numpy"),
        help="how the GPT decodes: numpy (float32 on CPU, numba kernels where available), torch "
        "(any device); auto picks numpy for fp32 on CPU",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads for the whole process, set once at start (default: torch's); 1 suits "
        "the opt-in --precision fp16 GPT step on a busy CPU",
    )


def apply_threads(args: argparse.Namespace) -> None:
    """Set torch's CPU threads once for the process (decoding never changes them afterwards)."""
    if getattr(args, "threads", None) is not None:
        import torch

        torch.set_num_threads(max(1, args.threads))


def resolve_device_args(args: argparse.Namespace) -> tuple[torch.device, torch.dtype]:
    """The device and dtype the ``--device``/``--precision`` flags ask for (DeviceError names the flag)."""
    from GPT_SoVITS.devices import resolve

    return resolve(args.device, getattr(args, "precision", "fp32"))


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )


def user_message(error: UserError) -> str:
    """The error's text, led by the field it concerns where the text does not already name it."""
    text = str(error) or type(error).__name__
    field = getattr(error, "field", None)
    return text if not field or field in text else f"{field}: {text}"


ProgressOf = Callable[[argparse.Namespace], ProgressLog | None]


def stage_main(
    argv: list[str] | None,
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], int],
    name: str | None = None,
    progress: ProgressOf | None = None,
) -> int:
    """Parse ``argv``, run the stage and map its outcome to an exit code (see the module text).

    ``progress(args)`` gives the progress log that receives the failure's ``end`` event (None: none).
    """
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", False))
    stage = name or parser.prog.removeprefix("python -m ")
    try:
        return int(run(args))
    except UserError as e:
        message, code = user_message(e), 2
        record = getattr(e, "record", True)
    except StageFailure as e:
        message, code, record = str(e), 1, True
    except Exception as e:  # a bug: the traceback goes to the log, the stage still ends with one line
        log.exception("%s failed", stage)
        message, code, record = f"internal error: {type(e).__name__}: {e}", 1, True
    print(f"error: {message}", file=sys.stderr, flush=True)
    if record and progress is not None:
        _record_failure(progress, args, stage, message)
    return code


def _record_failure(progress: ProgressOf, args: argparse.Namespace, stage: str, message: str) -> None:
    """Leave an ``end`` event for whoever tails the progress file, where its folder can exist."""
    try:
        log_ = progress(args)
        if log_ is not None:
            log_.write("end", stage=stage, ok=False, message=message)
    except OSError as e:
        log.warning("could not write the failure to the progress file: %s", e)
