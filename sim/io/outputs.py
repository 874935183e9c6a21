"""Where treatsim may write, and how: the one home for output safety and atomic writes.

The promises kept here:

- **Nothing the user did not hand over is deleted.** A folder is replaced only if this
  program wrote it (it holds treatsim's own ``run.json`` or ``manifest.json``), or if it
  is empty. Any other existing path (a folder of the user's, a file, a link) is refused
  before a simulation starts; with ``force`` it is moved aside to a visible
  ``NAME.before-treatsim-STAMP`` beside it, and still never deleted. A single file (a
  report, a schema, a fit) is replaced only if it carries treatsim's mark near its start.
- **Checked up front.** The parent must be a folder this process can write in, with
  room for the estimated output; otherwise :class:`OutputError` is raised before any work.
- **All or nothing.** A folder is written into a hidden staging sibling
  (``.NAME.treatsim-HOST-PID-XXXX``) and swapped into place: on Linux in one atomic
  exchange, elsewhere by moving the old one aside under a name the next run restores
  from. The old results are never hidden while the new ones are absent: at every moment
  ``NAME`` is the old run or the new one. Staging folders left by a killed run (their
  process is gone) are removed by the next run into the same parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..text import printable

__all__ = ["OutputError", "OutputTarget", "atomic_file", "clean_leftovers", "prepare_file",
           "prepare_folder", "printable", "staging", "write_owned_file"]

MARK_FILES = ("run.json", "manifest.json")
"""A folder holding one of these, written by treatsim, is a folder treatsim made."""
FILE_MARK = b"treatsim"
"""A file treatsim writes carries this word in its first :data:`HEAD_BYTES` bytes."""
HEAD_BYTES = 4096
PNG_METADATA = {"Software": "treatsim"}
"""Text chunk for PNG files treatsim writes on their own (``savefig(metadata=...)``)."""
SPARE_BYTES = 16 * 2**20
"""Free space kept beyond the estimated output (bytes)."""
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
_STAGED = re.compile(r"^\.(?P<name>.+)\.treatsim-(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-"
                     r"(?P<tag>[A-Za-z0-9_]+)(?:\.tmp)?$")


class OutputError(Exception):
    """An output location that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class OutputTarget:
    """A place checked by :func:`prepare_folder` for writing a folder; with ``force``, a
    path there that treatsim did not write may be moved aside when the results arrive."""

    path: Path
    force: bool = False


def owned_folder(path: Path) -> bool:
    """True if ``path`` is a real folder (not a link) holding treatsim's own marker file."""
    if path.is_symlink() or not path.is_dir():
        return False
    for name in MARK_FILES:
        mark = path / name
        if mark.is_file() and not mark.is_symlink():
            try:
                data = json.loads(mark.read_text(encoding="utf-8")[:1_000_000])
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and ("treatsim_version" in data
                                           or str(data.get("format", "")).startswith(
                                               "treatsim")):
                return True
    return False


def owned_file(path: Path) -> bool:
    """True if ``path`` is a regular file (not a link) that treatsim wrote: its mark is in
    the first :data:`HEAD_BYTES`, or, for a PDF (whose start Chromium writes), in the
    last :data:`HEAD_BYTES`."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
            if FILE_MARK in head:
                return True
            if not head.startswith(b"%PDF-"):
                return False
            f.seek(max(0, path.stat().st_size - HEAD_BYTES))
            return FILE_MARK in f.read(HEAD_BYTES)
    except OSError:
        return False


def _describe(path: Path) -> str:
    if path.is_symlink():
        return "a symbolic link"
    if path.is_dir():
        return "a folder that treatsim did not write"
    if path.is_file():
        return "a file that treatsim did not write"
    return "something other than a folder or a file"


def _check_parent(path: Path, need_bytes: float, create_parents: bool) -> None:
    """The parent of ``path`` exists (or, with ``create_parents``, can be made), is a
    folder this process can write in, and has ``need_bytes`` free plus a margin."""
    parent = path.absolute().parent
    probe = parent
    while not probe.exists() and not probe.is_symlink():
        if not create_parents:
            raise OutputError(f"{printable(parent)} does not exist; create it first or "
                              f"choose another location")
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"{printable(probe)} is a file, not a folder; cannot write "
                          f"{printable(path)}")
    try:
        fd, name = tempfile.mkstemp(prefix=".treatsim-probe-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise OutputError(f"cannot write in {printable(probe)} ({exc.strerror or exc}); "
                          f"choose a location you can write to") from None
    free = shutil.disk_usage(probe).free
    if free < need_bytes + SPARE_BYTES:
        raise OutputError(
            f"not enough room in {printable(probe)}: {free / 2**20:.0f} MiB free, about "
            f"{(need_bytes + SPARE_BYTES) / 2**20:.0f} MiB needed; free some space or "
            f"choose another location")


def prepare_folder(path: str | Path, *, force: bool = False, need_bytes: float = 0.0,
                   create_parents: bool = False) -> OutputTarget:
    """Check, before any work, that a results folder may be written at ``path``.

    :param force: let an existing path that treatsim did not write be moved aside
        (never deleted) when the results are put in place.
    :param need_bytes: estimated size of the output (bytes), checked against free space.
    :param create_parents: missing parent folders may be made (for default locations).
    :raises OutputError: with a message naming the path and what to do.
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise OutputError(f"{printable(path)} is not a name for a new results folder")
    _check_parent(path, need_bytes, create_parents)
    if path.parent.is_dir():
        clean_leftovers(path.parent)
    if not path.exists() and not path.is_symlink():
        return OutputTarget(path, force)
    if owned_folder(path):
        return OutputTarget(path, force)
    if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
        return OutputTarget(path, force)
    if force:
        return OutputTarget(path, force)
    raise OutputError(f"{printable(path)} already exists and is {_describe(path)}; treatsim "
                      f"only replaces its own results. Choose another location, or add "
                      f"--force to move it aside (it is never deleted)")


def prepare_file(path: str | Path, *, force: bool = False, create_parents: bool = False
                 ) -> Path:
    """Check, before any work, that a single output file may be written at ``path``: its
    parent is a writable folder (or, with ``create_parents``, can be made) and any file
    already there is one treatsim wrote.

    :raises OutputError: otherwise (``force`` moves a foreign file aside at write time).
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise OutputError(f"{printable(path)} is not a file name")
    _check_parent(path, 0.0, create_parents)
    if (path.exists() or path.is_symlink()) and not owned_file(path) and not force:
        raise OutputError(f"{printable(path)} already exists and is {_describe(path)}; "
                          f"choose another name, or add --force to move it aside (it is "
                          f"never deleted)")
    return path


def _staged_name(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.treatsim-{_HOST}-{os.getpid()}-{tag}")


def _aside_name(path: Path, label: str = "before-treatsim") -> Path:
    """A free visible sibling name, ``NAME.LABEL-STAMP`` (a file keeps its suffix last)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    stem, suffix = (path.stem, path.suffix) if path.is_file() else (path.name, "")
    n = 1
    while True:
        extra = "" if n == 1 else f"-{n}"
        aside = path.with_name(f"{stem}.{label}-{stamp}{extra}{suffix}")
        if not aside.exists() and not aside.is_symlink():
            return aside
        n += 1


@contextlib.contextmanager
def staging(target: OutputTarget | str | Path) -> Iterator[Path]:
    """A hidden staging folder beside the target to write into. On success it is put in
    place of the target (see :func:`put_in_place`); on any failure or interruption it
    is removed and the target is untouched."""
    if not isinstance(target, OutputTarget):
        target = prepare_folder(target, create_parents=True)
    path = target.path
    path.absolute().parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_staged_name(path, "").name, dir=path.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; results are for sharing
    try:
        yield tmp
        put_in_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def put_in_place(tmp: Path, target: OutputTarget) -> Path:
    """Move the finished folder ``tmp`` to ``target.path``, checking the target again (it
    may have changed during a long run). If it has become something treatsim may not
    replace, the results are kept under a new visible name instead and
    :class:`OutputError` says where."""
    path = target.path
    if path.exists() or path.is_symlink():
        if owned_folder(path) or (path.is_dir() and not path.is_symlink()
                                  and not any(path.iterdir())):
            _replace_folder(tmp, path)
            return path
        if not target.force:
            kept = _aside_name(tmp.with_name(path.name), "from-treatsim")
            os.rename(tmp, kept)
            raise OutputError(f"{printable(path)} became {_describe(path)} during the run, "
                              f"so it was left alone; the results are in {printable(kept)}")
        os.rename(path, _aside_name(path))
    os.rename(tmp, path)
    return path


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # a file system without the exchange
    raise OSError(err, os.strerror(err), str(b))


def _replace_folder(tmp: Path, path: Path) -> None:
    """Replace the folder ``path`` (treatsim's own, or empty) by ``tmp``. With an atomic
    exchange the old folder ends under the staging name and is then removed; otherwise
    it is moved to a staging name marked ``old``, which :func:`clean_leftovers` puts
    back if the process dies before the new folder is in place."""
    if _exchange(tmp, path):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = _staged_name(path, "old")
    os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(parent: Path) -> list[Path]:
    """Remove staging folders and temporary files in ``parent`` left by treatsim runs on
    this machine whose process has gone; an old folder whose replacement never arrived
    is put back. Nothing else is touched. Returns what was removed or restored."""
    done: list[Path] = []
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return done
    for entry in entries:
        m = _STAGED.match(entry.name)
        if not m or m["host"] != _HOST or _alive(int(m["pid"])) or entry.is_symlink():
            continue
        home = entry.with_name(m["name"])
        with contextlib.suppress(OSError):
            if m["tag"] == "old" and entry.is_dir() and not home.exists():
                os.rename(entry, home)
            elif entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            done.append(entry)
    return done


def atomic_file(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a hidden temporary sibling of ``path`` (a dot-file, which
    Parquet datasets skip), then rename it into place. If anything stops it (Ctrl-C
    included), the temporary file is removed and ``path`` is as it was. For files inside
    a folder treatsim owns; a file the user names goes through :func:`write_owned_file`."""
    path = Path(path)
    tmp = _staged_name(path, f"{os.urandom(4).hex()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_owned_file(path: str | Path, write: Callable[[Path], Any], force: bool = False
                     ) -> Path:
    """Write a file the user named (a report, a schema, a fit) atomically. A file already
    there is replaced only if treatsim wrote it; with ``force`` another file is moved
    aside, never deleted; without, the new file is kept under a new visible name and
    :class:`OutputError` says where (the check may have passed before a long run)."""
    path = Path(path)
    if (path.exists() or path.is_symlink()) and not owned_file(path):
        if not force:
            aside = _aside_name(path, "from-treatsim")
            atomic_file(aside, write)
            raise OutputError(f"{printable(path)} is {_describe(path)}, so it was left "
                              f"alone; the new file is {printable(aside)}")
        os.rename(path, _aside_name(path))
    return atomic_file(path, write)
