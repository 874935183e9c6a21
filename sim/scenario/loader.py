"""Loading scenario files: a file and, through ``extends``, every file it builds on,
merged; ``fitted:`` parameter files applied last; then validated
(:func:`.validate.parse_scenario`). Also the loaders of the other YAML files a scenario
is named from (sweep and targets files).
"""

from __future__ import annotations

import copy
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import ScenarioError, locate, validation_error
from .models import Scenario
from .params import PolicyError, set_parameter
from .validate import parse_scenario
from .wording import Lines, Problem, show_value
from .yamlread import MAX_FILE_BYTES, read_yaml

__all__ = ["MAX_EXTENDS", "SCENARIO_SUFFIXES", "TOP_KEYS", "display_path", "file_kind",
           "is_sweep_file", "load_model_file", "load_referenced_scenario", "load_scenario",
           "looks_like_scenario", "merge_data", "referenced_file", "resolve_path",
           "scenario_keys"]

MAX_EXTENDS = 16
"""Longest chain of ``extends``."""
SCENARIO_SUFFIXES = (".yaml", ".yml")
TOP_KEYS = frozenset({"extends", "fitted", "$schema"})
"""Top-level keys of a scenario file besides the sections of :class:`Scenario`."""

ModelT = TypeVar("ModelT", bound=BaseModel)


# --------------------------------------------------------------------------- paths


def resolve_path(path: Path) -> Path:
    """``path`` made absolute, links resolved where they can be (a link loop is not)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def display_path(path: Path) -> str:
    """``path`` as messages show it: relative to the working folder when inside it."""
    try:
        return str(resolve_path(path).relative_to(resolve_path(Path.cwd())))
    except ValueError:
        return str(path)


def referenced_file(path: Path, shown: str, line: int | None, key: str, ref: Any) -> Path:
    """The file that ``key: ref`` of ``path`` names (relative to ``path``): a ``.yaml``
    regular file that exists; nothing of it is read here.

    :raises ScenarioError: at ``shown:line``, naming ``key``.
    """
    def fail(msg: str) -> ScenarioError:
        return ScenarioError([(shown, line, key, msg)])

    if not isinstance(ref, str) or not ref.strip():
        raise fail(f"expected a file name, got {show_value(ref)}")
    if Path(ref).suffix.lower() not in SCENARIO_SUFFIXES:
        raise fail(f"expected a .yaml file, got {show_value(ref)}")
    target = resolve_path(path.parent / ref)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        raise fail(f"file not found: {ref} (looked for {display_path(target)})") from None
    except OSError as exc:
        raise fail(f"cannot read {ref}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise fail("not a regular file (a folder, device, pipe or socket): "
                   f"{display_path(target)}")
    if info.st_size > MAX_FILE_BYTES:
        raise fail(f"{ref} is larger than {MAX_FILE_BYTES // 1024} KiB, the most a scenario "
                   "file may be")
    return target


# --------------------------------------------------------------------------- what a file is


def scenario_keys() -> list[str]:
    """The top-level sections of a scenario (as the YAML spells them)."""
    return [f.alias or n for n, f in Scenario.model_fields.items()]


def looks_like_scenario(data: Mapping[str, Any]) -> bool:
    """A referenced file must have a scenario section (or ``extends``/``fitted``) at its
    top level before its content may appear in messages: a secrets file that happens to
    be a YAML mapping must not be quoted back."""
    return bool(set(data) & (TOP_KEYS | set(scenario_keys())) - {"name", "description"})


def file_kind(data: Mapping[str, Any]) -> str:
    """What a YAML file's top-level mapping is: ``"sweep"``, ``"targets"``,
    ``"calibration result"`` or (anything else) ``"scenario"``."""
    keys = set(data)
    if {"design", "parameters"} <= keys:
        return "sweep"
    if {"targets", "free_parameters"} <= keys:
        return "targets"
    if "parameters" in keys and not keys & set(scenario_keys()) - {"name"}:
        return "calibration result"
    return "scenario"


def is_sweep_file(path: str | Path) -> bool:
    """True if ``path`` reads (within the loader's budgets) as a sweep file; anything
    unreadable is False, left to the scenario loader to explain. Never blocks or
    recurses deeply, unlike a plain ``yaml.load``."""
    try:
        data, _ = read_yaml(Path(path), str(path))
    except ScenarioError:
        return False
    return file_kind(data) == "sweep"


# --------------------------------------------------------------------------- extends, fitted


def merge_data(base: dict[str, Any], base_lines: Lines, over: dict[str, Any],
               over_lines: Lines) -> dict[str, Any]:
    """Deep-merge ``over`` into a copy of ``base``: mappings merge, everything else replaces.

    A mapping that names its ``dist`` is a whole distribution: it replaces the base one
    (so a child can switch, say, weibull to lognormal). The line of every key taken from
    ``over`` (however deep) is moved into ``base_lines``, and the lines of what it
    replaced are dropped.
    """
    replaced: set[tuple[Any, ...]] = set()

    def merge(b: dict[str, Any], o: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
        out = dict(b)
        for key, value in o.items():
            sub = (*path, key)
            if isinstance(value, dict) and isinstance(out.get(key), dict) \
                    and "dist" not in value:
                out[key] = merge(out[key], value, sub)
            else:
                if key in out:
                    replaced.add(sub)
                out[key] = value
        return out

    merged = merge(base, over, ())
    if replaced:
        stale = [k for k in base_lines
                 if any(k[:n] in replaced for n in range(1, len(k) + 1))]
        for k in stale:
            del base_lines[k]
    base_lines.update(over_lines)
    return merged


def _load_tree(path: Path, stack: tuple[Path, ...], fitted: bool = True,
               via: tuple[str, int | None] | None = None, text: str | None = None
               ) -> tuple[dict[str, Any], Lines]:
    """Read ``path`` and, through ``extends``, every file it builds on, merged.

    :param stack: the files that extend this one (to find cycles).
    :param via: (file, line) of the ``extends`` that names this file.
    :param text: ``path``'s content, if given rather than read.
    """
    shown = display_path(path)
    data, lines = read_yaml(path, shown, text)
    if via is not None and not looks_like_scenario(data):
        raise ScenarioError([(*via, "extends", f"{display_path(path)} is not a scenario file "
                              "(none of its top-level keys is a scenario section)")])
    parent = data.pop("extends", None)
    fitted_file = data.pop("fitted", None)
    if not fitted:
        fitted_file = None
    fitted_line = lines.pop(("fitted",), (shown, None))[1]
    data.pop("$schema", None)
    if parent is None:
        return _apply_fitted(path, shown, data, lines, fitted_file, fitted_line)
    line = lines.get(("extends",), (shown, None))[1]
    target = _parent_file(path, shown, line, parent, stack)
    base, base_lines = _load_tree(target, (*stack, resolve_path(path)), fitted,
                                  (shown, line))
    for key in ("extends", "$schema"):
        lines.pop((key,), None)
    root = lines.pop((), None)
    merged = merge_data(base, base_lines, data, lines)
    if root is not None:
        base_lines[()] = root
    return _apply_fitted(path, shown, merged, base_lines, fitted_file, fitted_line)


def _parent_file(path: Path, shown: str, line: int | None, parent: Any,
                 stack: tuple[Path, ...]) -> Path:
    """The file ``extends: parent`` (on ``line`` of ``path``) names, which must not close
    a cycle or make the chain longer than :data:`MAX_EXTENDS`."""
    target = referenced_file(path, shown, line, "extends", parent)
    if target in stack or target == resolve_path(path):
        chain = " -> ".join(display_path(p) for p in (*stack, resolve_path(path), target))
        raise ScenarioError([(shown, line, "extends", f"forms a cycle: {chain}")])
    if len(stack) + 1 >= MAX_EXTENDS:
        raise ScenarioError([(shown, line, "extends", f"a chain of more than {MAX_EXTENDS} "
                              "files extending one another")])
    return target


def _apply_fitted(path: Path, shown: str, data: dict[str, Any], lines: Lines,
                  fitted: Any, line: int | None) -> tuple[dict[str, Any], Lines]:
    """Apply ``fitted: FILE`` (given on ``line``): the dotted-path ``parameters`` of a
    calibration result, set after everything else in the file (so fitted values win)."""
    if fitted is None:
        return data, lines
    target = referenced_file(path, shown, line, "fitted", fitted)
    fshown = display_path(target)
    fdata, flines = read_yaml(target, fshown)
    params = fdata.get("parameters")
    if not isinstance(params, dict) or not params:
        raise ScenarioError([(shown, line, "fitted", f"{fshown} is not a calibration "
                              "result (it has no mapping of 'parameters')")])
    data = copy.deepcopy(data)
    problems: list[Problem] = []
    for key, value in params.items():
        where = flines.get(("parameters", key), (fshown, None))
        try:
            set_parameter(data, key, value)
        except PolicyError as exc:
            problems.append((*where, f"parameters.{key}", str(exc.error)))
            continue
        lines[tuple(int(p) if p.isdigit() else p for p in key.split("."))] = where
    if problems:
        raise ScenarioError(problems)
    return data, lines


# --------------------------------------------------------------------------- entries


def load_scenario(path: str | Path, fitted: bool = True, text: str | None = None
                  ) -> Scenario:
    """Load, merge (``extends``) and validate a scenario YAML file.

    :param fitted: apply ``fitted:`` parameter files (``False`` gives the prior values a
        calibration starts from).
    :param text: the file's content, if it is given rather than read: checked exactly as
        if it were saved at ``path`` (``extends`` is found beside ``path``), and nothing
        is written.
    :raises ScenarioError: naming file, line and key of every problem found.
    """
    path = Path(path)
    data, lines = _load_tree(path, (), fitted, text=text)
    return parse_scenario(data, lines, display_path(path))


def load_model_file(path: Path, model: type[ModelT]
                    ) -> tuple[ModelT, Callable[..., int | None], str]:
    """Load a YAML file that is not a scenario (a targets or sweep file) into ``model``.

    :returns: (the validated object, ``line_of(*key path)``: the line of the deepest
        key of that path found in the file, the file's name as shown in messages).
    :raises ScenarioError: naming file, line and key of every problem found.
    """
    shown = display_path(path)
    data, lines = read_yaml(path, shown)
    data.pop("$schema", None)
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, lines, shown, model) from None

    def line_of(*loc: Any) -> int | None:
        """The line of the deepest key of ``loc`` found in the file, or None."""
        return locate(lines, loc, shown)[1]

    return obj, line_of, shown


def load_referenced_scenario(path: Path, ref: str, line_of: Callable[..., int | None],
                             shown: str, fitted: bool = True) -> Scenario:
    """Load the scenario that the file ``path`` names under its ``scenario`` key as
    ``ref`` (relative to ``path``).

    :raises ScenarioError: if it is missing, is ``path`` itself or another kind of file
        (naming the key's line), or is not a valid scenario.
    """
    line = line_of("scenario")
    target = referenced_file(path, shown, line, "scenario", ref)
    if target == resolve_path(path):
        raise ScenarioError([(shown, line, "scenario", "names this file itself; it must "
                              "name a scenario file")])
    data, _ = read_yaml(target, display_path(target))
    kind = file_kind(data)
    if kind != "scenario":
        raise ScenarioError([(shown, line, "scenario", f"{ref} is a {kind} file, not a "
                              "scenario")])
    if not looks_like_scenario(data):
        raise ScenarioError([(shown, line, "scenario", f"{ref} is not a scenario file "
                              "(none of its top-level keys is a scenario section)")])
    return load_scenario(target, fitted=fitted)
