"""Builds treatsim and compiles the simulation (``sim/model``) with mypyc when it can.

Everything else about the package is in ``pyproject.toml``. The model's modules are plain
typed Python; mypyc compiles the same sources to C extension modules, which make the same
draws in the same order, with the same records, in about 60% of the time. The build writes
``sim/model/compiled.json`` beside them (the SHA-256 of each source it compiled), and
:mod:`sim.native` loads the sources instead whenever one has changed since it was
compiled, or when ``TREATSIM_PURE_PYTHON`` is set.

Compiling needs a C compiler and Python's headers. Without them, or with
``TREATSIM_PURE_PYTHON=1`` at install time, the package installs uncompiled and runs the
same model more slowly; the build prints which.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
MODEL = Path("sim") / "model"
LEFT_AS_SOURCE = {"__init__.py"}
"""Not compiled: the package's entry (it chooses the build)."""
GROUP = "sim.model.compiled"
"""The name of the compiled modules' shared library (``sim/model/compiled__mypyc``)."""


def _native() -> ModuleType:
    """``sim/native.py``, loaded by its path (it needs only the standard library): the one
    home of the manifest's name and format, the switch variable and the digest."""
    spec = importlib.util.spec_from_file_location("treatsim_build_native",
                                                  ROOT / "sim" / "native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NATIVE = _native()


def compiled_sources() -> list[str]:
    """The model's sources to compile, as paths relative to this folder (sorted)."""
    return sorted(str(MODEL / path.name) for path in (ROOT / MODEL).glob("*.py")
                  if path.name not in LEFT_AS_SOURCE)


def say(message: str) -> None:
    """One line of the build's output about compiling."""
    print(f"treatsim: {message}", file=sys.stderr)


METADATA_ONLY = {"egg_info", "dist_info", "sdist"}
"""Commands that build no module (pip asks for the metadata first): nothing to compile."""


def extensions() -> list:
    """The mypyc extension modules, or none when compiling is off or cannot start."""
    if len(sys.argv) > 1 and sys.argv[1] in METADATA_ONLY:
        return []
    if NATIVE.pure_requested():
        say(f"{NATIVE.PURE_VARIABLE} is set: the model is installed uncompiled")
        return []
    try:
        from mypyc.build import mypycify

        built = mypycify(compiled_sources(), opt_level="3", group_name=GROUP)
    except Exception as error:  # noqa: BLE001 - any failure leaves the pure-Python model
        say(f"the model is installed uncompiled (mypyc could not start: {error})")
        return []
    for extension in built:
        extension.optional = True  # a compiler error leaves the pure-Python model
    return built


class BuildExt(build_ext):
    """Builds the extensions, then writes the manifest of what was compiled."""

    def run(self) -> None:
        """Compile, then write ``compiled.json`` (or remove a stale one) beside the modules."""
        super().run()
        if not self.extensions:
            return
        manifest = Path(self.get_ext_fullpath("sim.model.model")).parent / NATIVE.MANIFEST
        missing = [ext.name for ext in self.extensions
                   if not Path(self.get_ext_fullpath(ext.name)).is_file()]
        if missing:
            manifest.unlink(missing_ok=True)
            say(f"the model is installed uncompiled (not built: {', '.join(missing)})")
            return
        modules = {str(Path(path).with_suffix("")).replace(os.sep, "."):
                   NATIVE.source_digest(ROOT / path) for path in compiled_sources()}
        manifest.write_text(json.dumps({"modules": modules}, indent=1, sort_keys=True) + "\n",
                            encoding="utf-8")
        say(f"the model is compiled ({len(modules)} modules)")


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
