"""The report as a PDF, printed by headless Chromium from the HTML file.

The PDF is written to a hidden temporary file beside ``pdf_path`` and renamed into place
only when Chromium succeeded and wrote a PDF, so ``pdf_path`` is never half written.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ..io.outputs import FILE_MARK

BROWSERS = ("chromium", "chromium-browser")
PDF_TIMEOUT_SECONDS = 180.0
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--run-all-compositor-stages-before-draw",
         "--virtual-time-budget=10000", "--no-pdf-header-footer",
         "--print-to-pdf-no-header")


class PdfError(OSError):
    """The PDF could not be made: no Chromium, Chromium failed, or it took too long."""


def find_chromium() -> str:
    """The path of Chromium (``chromium`` or ``chromium-browser`` on the PATH).

    :raises PdfError: when neither is installed, saying how to install it.
    """
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise PdfError("the PDF needs Chromium, which is not installed (looked for "
                   f"{' and '.join(BROWSERS)} on the PATH); on Debian or Ubuntu: "
                   "apt-get install chromium")


def _run(command: list[str], timeout: float) -> tuple[int, str]:
    """Run ``command`` in its own process group; (exit code, the end of its stderr).
    On timeout the whole group (Chromium's helper processes too) is killed."""
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise PdfError(f"Chromium did not finish printing the PDF within {timeout:.0f} s; "
                       "nothing was written") from None
    return proc.returncode, (err or "")[-1500:]


PDF_MARK = b"\n%" + FILE_MARK + b" report\n"
"""Appended to every PDF treatsim prints, so that it may replace it next time
(:func:`sim.io.outputs.owned_file` looks for the mark at a PDF's end)."""


def write_pdf(html_path: Path, pdf_path: Path, timeout: float = PDF_TIMEOUT_SECONDS,
              browser: str | None = None) -> None:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium.

    :param timeout: seconds Chromium may take before it is stopped.
    :param browser: the Chromium to use (default: :func:`find_chromium`).
    :raises PdfError: (an :class:`OSError`) when Chromium is missing, fails, times out or
        writes no PDF; ``pdf_path`` is then left as it was.
    """
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    if not html_path.is_file():
        raise PdfError(f"no HTML report at {html_path} to print")
    browser = browser or find_chromium()
    folder = pdf_path.resolve().parent
    tmp = folder / f".{pdf_path.name}.{os.getpid()}-{secrets.token_hex(4)}.treatsim-tmp.pdf"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies
    try:
        with tempfile.TemporaryDirectory(prefix="treatsim-chromium-") as profile:
            code, err = _run([browser, *FLAGS, f"--user-data-dir={profile}",
                              f"--print-to-pdf={tmp}", html_path.as_uri()], timeout)
        with tmp.open("rb") as f:
            head = f.read(5)
        if code != 0 or head != b"%PDF-":
            raise PdfError(f"Chromium could not print {html_path.name} to a PDF (exit code "
                           f"{code}): {err.strip() or 'no PDF was written'}")
        with tmp.open("ab") as f:  # the mark after %%EOF: a comment PDF readers skip
            f.write(PDF_MARK)
        os.replace(tmp, pdf_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
