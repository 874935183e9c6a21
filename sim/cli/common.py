"""What every command shares: the exit codes, error and warning lines, the checked
results folder and the refusal of work too big for this machine."""

from __future__ import annotations

import sys
from pathlib import Path

from ..execute.limits import WorkEstimate, too_big
from ..io.outputs import OutputTarget, prepare_folder
from ..text import printable

EXIT_BAD_INPUT = 2
"""A bad scenario or bad arguments: nothing was written."""
EXIT_INTERRUPTED = 130
"""Interrupted: finished replications are still written."""


def error(message: str) -> int:
    """Print ``message`` on standard error and return :data:`EXIT_BAD_INPUT`."""
    print(printable(message), file=sys.stderr)
    return EXIT_BAD_INPUT


def warn(message: str) -> None:
    """Print ``message`` on standard error as a warning."""
    print(f"warning: {printable(message)}", file=sys.stderr)


def output_folder(given: str | None, default: Path, force: bool,
                  need_bytes: float = 0.0) -> OutputTarget:
    """The checked results folder: ``--out`` as given (its parent must exist), or the
    default under ``results/`` (made if missing); ``need_bytes`` in bytes. Raises
    :class:`~sim.io.outputs.OutputError`."""
    if given:
        return prepare_folder(Path(given), force=force, need_bytes=need_bytes)
    return prepare_folder(default, force=force, need_bytes=need_bytes, create_parents=True)


def too_big_refusal(source: str, estimate: WorkEstimate, force: bool) -> str | None:
    """The refusal message for work that cannot fit in memory or a day, unless ``force``
    (then a warning is printed and the work goes ahead)."""
    problem = too_big(estimate)
    if problem is None:
        return None
    if force:
        warn(f"{source}: {problem}; going ahead because of --force")
        return None
    return f"{source}: {problem}; add --force to run anyway"
