"""The one ``main`` wrapper of every entry point: quiet start, one-line errors, exit codes.

``genrefocus``, ``genrefocus-data`` and the scripts in ``training/`` and ``eval/`` all run through
:func:`run_main`. It

* keeps third-party start-up chatter off the terminal (torchao's optional kernels, torch's pytree
  deprecation notes, transformers / diffusers notices) — this process's own logging setup, done
  before those libraries are imported; our own warnings still show;
* parses arguments with :class:`ArgumentParser`, whose usage errors are one line too;
* turns every input problem into one line ``<prog>: error: <message naming the input>`` on stderr and
  exit code 2: :class:`~genrefocus.errors.InputError` (bad input, config or option),
  :class:`~genrefocus.errors.MissingWeightsError` (what to download), and ``OSError`` while reading
  or writing a named file (a full disk, a folder that became read-only); Ctrl-C exits 130.

Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from typing import Callable, Optional, Sequence

from .errors import InputError, MissingWeightsError

#: loggers whose warnings are start-up chatter, not about the user's run
QUIET_LOGGERS = ("torchao", "torch.utils._pytree", "diffusers", "transformers", "accelerate.utils.other",
                 "huggingface_hub")


def quiet_third_party() -> None:
    """Silence third-party start-up logging in this (command-line) process; their Python warnings
    are filtered by :func:`run_main` for the duration of the run."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "critical")  # read when they are first imported;
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "critical")     # their errors reach the user through ours
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def no_loading_bars() -> None:
    """diffusers' "Loading pipeline components" and transformers' "Loading weights" bars, when they are
    installed (this command-line process; our own progress bars stay)."""
    for module in ("diffusers.utils.logging", "transformers.utils.logging"):
        try:
            __import__(module, fromlist=["disable_progress_bar"]).disable_progress_bar()
        except ImportError:
            pass


def _filter_third_party_warnings() -> None:
    for module in ("torchao", "torch", "diffusers", "transformers", "peft", "accelerate", "timm", "huggingface_hub",
                   "skimage"):
        warnings.filterwarnings("ignore", module=rf"{module}(\..*)?")
    warnings.filterwarnings("ignore", category=FutureWarning)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` with every default shown (unless the help text already says it, or there is none to show:
    a flag, an optional value left unset) and descriptions kept as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or "default" in text.lower() or text == argparse.SUPPRESS:
            return text
        if action.default in (None, False, argparse.SUPPRESS) or action.default == []:
            return text
        return f"{text} (default: %(default)s)".strip()


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line usage errors (``<prog>: error: <message>``, exit code 2) and defaults shown
    in ``--help`` (:class:`HelpFormatter`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def checked(check, *args, **kwargs):
    """An argparse ``type=`` from a library check that raises :class:`InputError` (``check(text, *args,
    **kwargs)``): its problem becomes argparse's one-line usage error naming the option."""
    def convert(text):
        try:
            return check(text, *args, **kwargs)
        except InputError as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None
    convert.__name__ = getattr(check, "__name__", "value")
    return convert


def one_line(text: str) -> str:
    """A message on one line (newlines of wrapped library messages folded)."""
    return " ".join(str(text).split())


def run_main(prog: str, parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int],
             argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` and call ``run(args)``; the error contract of the module doc."""
    quiet_third_party()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage error (one line, code 2) or --help (code 0)
        return int(exc.code or 0)
    with warnings.catch_warnings():
        _filter_third_party_warnings()
        warnings.showwarning = lambda message, *a, **k: print(f"{prog}: warning: {one_line(message)}", file=sys.stderr)
        return _run(prog, run, args)


def _run(prog, run, args) -> int:
    try:
        return int(run(args) or 0)
    except (InputError, MissingWeightsError) as exc:
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        if getattr(exc, "filename", None) is None:
            raise
        print(f"{prog}: error: {exc.filename}: {one_line(exc.strerror or exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


__all__ = ["ArgumentParser", "HelpFormatter", "checked", "one_line", "quiet_third_party", "run_main"]
