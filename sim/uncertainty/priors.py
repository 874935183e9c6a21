"""Priors: the distribution of every uncertain input, read from the evidence file.

Each entry of ``calibration/evidence.yaml`` sets one or more scenario paths to a cited
value (or a stated judgement) and gives that value a ``prior`` block::

    prior: {dist: lognormal, low: 0.5, high: 0.9, basis: ci95, quote: "..."}

``low`` and ``high`` are in the units of the scenario parameter (``set_to`` when the
entry has one). Every distribution is handled through its quantile function, so a draw
is a quantile ``q`` in (0, 1): random draws, the ends of a range (for a tornado) and the
centre all go through :meth:`Prior.at`.

* ``lognormal``: median the set value, ``low``/``high`` its 2.5th and 97.5th centiles;
* ``beta``: mean the set value, ``low``/``high`` its 95% interval (concentration fitted);
* ``triangular``: mode the set value, ends ``low`` and ``high`` (either may be larger);
  a list value (a pressure table) moves every element at the same quantile;
* ``uniform``: flat from ``low`` to ``high``;
* ``fixed``: never drawn.

Entries sharing a ``group`` (the two caseload-pressure tables) are drawn with one
quantile and checked together. ``neutral`` gives the value of "no effect" for a
judgement about an effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from ..scenario import Lines, ScenarioError, locate, read_yaml
from ..scenario.params import PolicyError, get_parameter

ROOT = Path(__file__).resolve().parents[2]
EVIDENCE = ROOT / "calibration" / "evidence.yaml"
"""The evidence file of the checkout (the default source of priors)."""

DISTS = ("lognormal", "beta", "triangular", "uniform", "fixed")
NORMAL = NormalDist()
Z975 = NORMAL.inv_cdf(0.975)


class PriorError(ValueError):
    """The evidence file's priors cannot be read (the message names the entry)."""


@dataclass(frozen=True)
class Prior:
    """The prior of one evidence entry.

    :ivar name: the entry's name in the evidence file.
    :ivar label: the entry in plain words (its ``label``, else its ``unit``).
    :ivar kind: ``judgement`` or ``cited``.
    :ivar dist: one of :data:`DISTS`.
    :ivar central: the value the scenarios use (a number or a list of numbers).
    :ivar low: the low end (``lognormal``/``beta``: the 2.5th centile).
    :ivar high: the high end (the 97.5th centile).
    :ivar neutral: the value meaning "no effect", if the judgement is of an effect.
    :ivar paths: the scenario paths the entry sets.
    :ivar group: entries with the same group move together (defaults to the name).
    """

    name: str
    label: str
    kind: str
    dist: str
    central: Any
    low: Any = None
    high: Any = None
    neutral: Any = None
    paths: tuple[str, ...] = ()
    group: str = ""

    @property
    def drawn(self) -> bool:
        """Whether the prior has any spread (``fixed`` priors are never drawn)."""
        return self.dist != "fixed" and self.low != self.high

    def at(self, q: float) -> Any:
        """The value at quantile ``q`` (0 < q < 1); the ends ``low``/``high`` at
        :data:`Z975`'s tails for lognormal and beta, the stated ends for the others."""
        if not self.drawn:
            return self.central
        if isinstance(self.central, list):
            return [self._scalar(q, c, lo, hi)
                    for c, lo, hi in zip(self.central, self.low, self.high, strict=True)]
        return self._scalar(q, self.central, self.low, self.high)

    def setting(self, name: str) -> Any:
        """The value at a named setting: ``low``, ``high``, ``central`` or ``neutral``."""
        return {"low": self.low, "high": self.high, "central": self.central,
                "neutral": self.neutral}[name]

    def _scalar(self, q: float, c: float, lo: float, hi: float) -> float:
        if lo == hi:
            return c
        if self.dist == "lognormal":
            sigma = (math.log(hi) - math.log(lo)) / (2 * Z975)
            return float(c * math.exp(sigma * NORMAL.inv_cdf(q)))
        if self.dist == "beta":
            from scipy import stats  # heavy: only when a beta prior is drawn

            a, b = _beta(c, lo, hi)
            return float(stats.beta.ppf(q, a, b))
        if self.dist == "uniform":
            return lo + q * (hi - lo)
        return _triangular(q, min(lo, hi), c, max(lo, hi), flip=lo > hi)


@lru_cache(maxsize=256)
def _beta(mean: float, lo: float, hi: float) -> tuple[float, float]:
    """Beta(a, b) with mean ``mean`` whose central 95% interval is as wide as ``lo..hi``."""
    from scipy import optimize, stats  # heavy: only when a beta prior is drawn

    width = hi - lo

    def gap(log_k: float) -> float:
        k = math.exp(log_k)
        a, b = mean * k, (1 - mean) * k
        return float(stats.beta.ppf(0.975, a, b) - stats.beta.ppf(0.025, a, b)) - width

    k = math.exp(optimize.brentq(gap, math.log(0.5), math.log(1e7)))
    return mean * k, (1 - mean) * k


def _triangular(q: float, a: float, c: float, b: float, flip: bool) -> float:
    """Quantile ``q`` of the triangular distribution on ``a..b`` with mode ``c``; with
    ``flip`` the quantile runs from ``b`` down, so that q near 0 is always the ``low``
    end of the entry."""
    if flip:
        q = 1.0 - q
    cut = (c - a) / (b - a)
    if q < cut:
        return a + math.sqrt(q * (b - a) * (c - a))
    return b - math.sqrt((1 - q) * (b - a) * (b - c))


def load_priors(path: str | Path = EVIDENCE, key: str = "evidence") -> list[Prior]:
    """Every entry's prior from the list ``key`` of the YAML file at ``path`` (the
    evidence file, or a scenario's judgements file with ``key`` "judgements", whose
    entries are judgements), in file order.

    :raises PriorError: one paragraph naming the file, the line and the key of the first
        entry whose prior is missing or malformed.
    """
    path = Path(path)
    try:
        data, lines = read_yaml(path, str(path))
    except ScenarioError as exc:
        raise PriorError(exc.message()) from None
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise PriorError(f"{path}: {key}: must be a list of entries")
    return [_prior(item, key == "judgements",
                   lambda rest, msg, i=i: _where(path, lines, (key, i, *rest), msg))
            for i, item in enumerate(items)]


def _where(path: Path, lines: Lines, loc: tuple[Any, ...], message: str) -> PriorError:
    """The error for key path ``loc``: 'FILE:LINE: a.0.prior.dist: MESSAGE'."""
    file, line = locate(lines, loc, str(path))
    at = f"{file}:{line}" if line else file
    return PriorError(f"{at}: {'.'.join(str(x) for x in loc)}: {message}")


def _prior(item: Any, judgement: bool, fail: Any) -> Prior:
    if not isinstance(item, dict):
        raise fail((), "must be a mapping with name, value, sets and prior")
    name = str(item.get("name", "?"))
    block = item.get("prior")
    if not isinstance(block, dict):
        raise fail(("prior",), f"missing (entry {name}: every entry needs a prior block)")
    dist = block.get("dist")
    if dist not in DISTS:
        raise fail(("prior", "dist"), f"must be one of {', '.join(DISTS)}, got {dist!r} "
                   f"(entry {name})")
    central = item.get("set_to", item.get("value"))
    low, high = block.get("low", central), block.get("high", central)
    if dist != "fixed" and ("low" not in block or "high" not in block):
        raise fail(("prior",), f"a {dist} prior needs low and high (entry {name})")
    if np.shape(low) != np.shape(central) or np.shape(high) != np.shape(central):
        raise fail(("prior",), f"low and high must have the shape of the value (entry {name})")
    kind = "judgement" if judgement or item.get("kind") == "judgement" else "cited"
    return Prior(name=name, label=str(item.get("label") or item.get("unit") or name),
                 kind=kind, dist=dist, central=central, low=low, high=high,
                 neutral=item.get("neutral"), paths=tuple(item.get("sets") or ()),
                 group=str(item.get("group") or name))


def judgements_file(scenario_file: str | Path, name: str) -> Path:
    """Where the stated judgements of the scenario called ``name`` (read from
    ``scenario_file``) live: ``judgements/<name>.yaml`` beside the scenario file."""
    return Path(scenario_file).parent / "judgements" / f"{name}.yaml"


def scenario_priors(files: list[str | Path], names: list[str],
                    evidence: str | Path = EVIDENCE) -> list[Prior]:
    """The evidence file's priors, then the judgements of each compared scenario that has
    a judgements file (:func:`judgements_file`), each entry once (first name wins).

    :raises PriorError: naming the file, line and key of a malformed entry.
    """
    priors = load_priors(evidence)
    seen = {p.name for p in priors}
    for file, name in zip(files, names, strict=True):
        path = judgements_file(file, name)
        if not path.is_file():
            continue
        for prior in load_priors(path, key="judgements"):
            if prior.name not in seen:
                seen.add(prior.name)
                priors.append(prior)
    return priors


def is_judgements_file(path: str | Path) -> bool:
    """Whether ``path`` is a scenario's judgements file (it sits in a ``judgements``
    folder beside the scenarios)."""
    return Path(path).parent.name == "judgements"


def check_judgements_file(path: str | Path) -> str:
    """Check a judgements file as ``treatsim validate`` does: every entry reads, and the
    scenario it belongs to (``../<name>.yaml``), if there, holds each entry's value at
    every path it names (else the judgement would never be checked).

    :returns: a one-line summary.
    :raises PriorError: naming the file, the entry and the path that is wrong.
    :raises ScenarioError: when the scenario it belongs to does not load.
    """
    from ..scenario import load_scenario  # the scenario loader, only for this check

    path = Path(path)
    priors = load_priors(path, key="judgements")
    scenario = path.parent.parent / f"{path.stem}.yaml"
    if not scenario.is_file():
        return f"{len(priors)} judgements (no scenario {scenario.name} beside them)"
    raw = load_scenario(scenario).model_dump(by_alias=True)
    for prior in priors:
        missing = [p for p in prior.paths if p not in uses(raw, prior)]
        if missing:
            raise PriorError(f"{path}: judgement {prior.name}: {scenario.name} does not hold "
                             f"{prior.central!r} at {', '.join(missing)}, so it would never "
                             "be checked")
    return f"{len(priors)} judgements of {scenario.name}"


def groups(priors: list[Prior]) -> dict[str, list[Prior]]:
    """The drawn priors by group, in file order (one quantile moves a whole group)."""
    out: dict[str, list[Prior]] = {}
    for p in priors:
        if p.drawn:
            out.setdefault(p.group, []).append(p)
    return out


def uses(raw: dict[str, Any], prior: Prior) -> list[str]:
    """The paths of ``prior`` at which the scenario data ``raw`` holds the prior's central
    value: where an area or a what-if sets its own value, the evidence is not drawn."""
    kept = []
    for dotted in prior.paths:
        try:
            value = get_parameter(raw, dotted)
        except PolicyError:
            continue
        if _same(value, prior.central):
            kept.append(dotted)
    return kept


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b
