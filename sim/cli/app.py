"""``treatsim app``: start the what-if page (Streamlit) on this machine."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from ..io.outputs import OutputError
from ..text import printable
from .common import EXIT_INTERRUPTED, error

PAGE = Path(__file__).resolve().parents[1] / "app" / "page.py"


def app_command(args: argparse.Namespace) -> int:
    """Check the folders, then run the page until it is stopped (Ctrl-C); returns the
    exit code."""
    from ..app.areas import baseline_files, scenarios_folder
    from ..app.runs import results_folder

    folder = scenarios_folder(args.scenarios)
    if not folder.is_dir() or not baseline_files(folder):
        return error(f"{printable(folder)}: no calibrated baseline here (a scenario file with "
                     "a 'fitted:' key); start the page in the treatsim folder or give "
                     "--scenarios DIR")
    try:
        out = results_folder(args.out)
    except OutputError as exc:
        return error(f"--out: {exc}")
    env = {**os.environ, "TREATSIM_APP_SCENARIOS": str(folder.resolve()),
           "TREATSIM_APP_OUT": str(out.resolve()),
           "TREATSIM_APP_WORKERS": str(args.workers or os.cpu_count() or 1)}
    argv = [sys.executable, "-m", "streamlit", "run", str(PAGE),
            "--server.port", str(args.port), "--server.address", args.host,
            "--server.headless", "true", "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false", "--global.developmentMode", "false",
            "--theme.base", "light", "--client.toolbarMode", "viewer"]
    where = f"http://{args.host}:{args.port}"
    print(f"treatsim what-if page: {where} (Ctrl-C stops it); runs are kept in "
          f"{printable(out)}", file=sys.stderr, flush=True)
    try:
        return subprocess.run(argv, env=env, check=False).returncode
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
