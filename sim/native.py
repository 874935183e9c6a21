"""Which build of the simulation runs: the modules compiled by mypyc, or their sources.

``pip install`` compiles the modules of :mod:`sim.model` with mypyc when it can (see
``setup.py``): the same typed Python sources become C extension modules that make the same
draws in the same order, with the same records, in about 60% of the time. The build writes
a manifest beside them, ``compiled.json``, with the SHA-256 of each source it compiled.

Python imports an extension module in preference to its source. So that an edited source is
never shadowed by an extension built from an older one, :func:`choose_build` compares every
compiled source with the manifest when :mod:`sim.model` is first imported, and loads all
the sources instead (never a mix) when:

* ``TREATSIM_PURE_PYTHON`` is set to anything but ``""`` or ``"0"``;
* any source differs from the one compiled (a warning says to install again);
* an extension module named in the manifest is missing.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

MANIFEST = "compiled.json"
"""The build's manifest, in the compiled package's folder."""

PURE_VARIABLE = "TREATSIM_PURE_PYTHON"
"""The environment variable that asks for the sources (at build time and at run time)."""

_builds: dict[str, str] = {}


class _Sources(importlib.abc.MetaPathFinder):
    """Finds the listed modules from their ``.py`` sources, ahead of any extension."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self.sources = sources

    def find_spec(self, fullname: str, path: object = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        """The source's spec for a listed module; ``None`` lets the others be found as usual."""
        source = self.sources.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def source_digest(path: Path) -> str:
    """The SHA-256 of a source file's bytes (hex)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pure_requested() -> bool:
    """Whether ``TREATSIM_PURE_PYTHON`` asks for the pure-Python sources."""
    return os.environ.get(PURE_VARIABLE, "") not in ("", "0")


def choose_build(package: str, folder: Path) -> str:
    """Decide, before ``package``'s modules are imported, whether its compiled modules run;
    returns the build that runs (see :func:`build_of`). Call once from the package's
    ``__init__`` with its folder."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return _chose(package, "pure Python (not compiled)")
    modules: dict[str, str] = json.loads(manifest.read_text(encoding="utf-8"))["modules"]
    sources = {name: folder / f"{name.rsplit('.', 1)[1]}.py" for name in modules}
    if pure_requested():
        return _use_sources(package, sources, f"pure Python ({PURE_VARIABLE} is set)")
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    for name, digest in sorted(modules.items()):
        stem = name.rsplit(".", 1)[1]
        if not any((folder / f"{stem}{suffix}").is_file() for suffix in suffixes):
            return _use_sources(package, sources, f"pure Python ({stem}'s compiled module "
                                                  f"is missing)")
        if not sources[name].is_file() or source_digest(sources[name]) != digest:
            warnings.warn(
                f"{sources[name]} has changed since it was compiled, so the simulation runs "
                f"from its sources, more slowly; `pip install -e .` compiles it again",
                stacklevel=2)
            return _use_sources(package, sources, f"pure Python ({stem}.py changed since "
                                                  f"it was compiled)")
    return _chose(package, "compiled (mypyc)")


def _use_sources(package: str, sources: dict[str, Path], build: str) -> str:
    if not any(isinstance(finder, _Sources) and finder.sources == sources
               for finder in sys.meta_path):
        sys.meta_path.insert(0, _Sources(sources))
    return _chose(package, build)


def _chose(package: str, build: str) -> str:
    _builds[package] = build
    return build


def build_of(package: str = "sim.model") -> str:
    """The build of ``package`` that runs: ``"compiled (mypyc)"`` or ``"pure Python
    (...)"`` with the reason. Imports the package if it has not been imported yet."""
    if package not in _builds:
        importlib.import_module(package)
    return _builds[package]
