"""The ``treatsim`` command: parse, load, run, write. Nothing else lives here.

Exit codes: 0 success, 2 a bad scenario or bad arguments (nothing written),
130 interrupted (finished replications are still written).

:mod:`.parser` builds the arguments, :mod:`.common` holds what every command shares,
and each command (or pair of commands) has a module of its own: :mod:`.run`,
:mod:`.compare`, :mod:`.calibrate`, :mod:`.sweep` (sweep, sensitivity) and
:mod:`.validate` (validate, schema), :mod:`.validate_model` and :mod:`.app` (the
what-if page).
"""

from __future__ import annotations

import signal
import threading

from .app import app_command
from .calibrate import calibrate_command
from .common import EXIT_BAD_INPUT, EXIT_INTERRUPTED
from .compare import compare_command
from .parser import build_parser
from .run import run_command
from .sweep import sensitivity_command, sweep_command
from .validate import schema_command, validate_command
from .validate_model import validate_model_command

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "main"]


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    """A SIGTERM handler that stops work the way Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``treatsim``; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        # a scheduler's SIGTERM stops a run the way Ctrl-C does: finished work is kept
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    if args.command == "validate":
        return validate_command(args.files)
    if args.command == "schema":
        return schema_command(args.out, args.sweep, args.force)
    if args.command == "calibrate":
        return calibrate_command(args)
    if args.command == "compare":
        return compare_command(args)
    if args.command == "sweep":
        return sweep_command(args)
    if args.command == "sensitivity":
        return sensitivity_command(args)
    if args.command == "validate-model":
        return validate_model_command(args)
    if args.command == "app":
        return app_command(args)
    return run_command(args)
