"""Declared duration distributions, all in days.

A scenario declares a duration as a small mapping, e.g.
``{dist: weibull, shape: 0.7, scale_days: 120}``. Each class here is both the
validated pydantic model of that mapping and the sampler: it knows its own mean and
variance (tested against samples) and draws from a stream it is handed.

Besides sampling, each distribution exposes its cumulative hazard
``H(t) = -log S(t)`` and the inverse ``H^-1``. The model uses them to apply
time-varying proportional-hazard multipliers (for example caseload pressure on
drop-out): a person draws one unit-exponential "budget" ``E`` and leaves when the
accumulated, multiplied hazard reaches it, which is exact for any baseline
distribution and piecewise-constant multipliers.
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_left, bisect_right
from statistics import NormalDist
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator


@functools.cache
def _special() -> Any:
    """SciPy's special functions (the gamma's cumulative hazard), imported on first use
    so that reading a scenario does not load SciPy."""
    from scipy import special

    return special


__all__ = [
    "Distribution",
    "Empirical",
    "Exponential",
    "Fixed",
    "Gamma",
    "Lognormal",
    "Weibull",
]

_STD_NORMAL = NormalDist()
_INF = math.inf


class Draws(Protocol):
    """What a random stream offers the model's distributions: a named stream
    (:class:`random.Random`) or a person's own (:class:`sim.model.draws.PersonStream`)."""

    def random(self) -> float:
        """A uniform draw in [0, 1)."""

    def expovariate(self, lambd: float) -> float:
        """An exponential draw with rate ``lambd``."""

    def lognormvariate(self, mu: float, sigma: float) -> float:
        """A lognormal draw."""

    def weibullvariate(self, alpha: float, beta: float) -> float:
        """A Weibull draw: scale ``alpha``, shape ``beta``."""

    def gammavariate(self, alpha: float, beta: float) -> float:
        """A gamma draw: shape ``alpha``, scale ``beta``."""


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def mean(self) -> float:  # pragma: no cover - every subclass overrides
        """Mean duration in days."""
        raise NotImplementedError

    def var(self) -> float:  # pragma: no cover - every subclass overrides
        """Variance in days squared."""
        raise NotImplementedError

    def sample(self, rng: Draws) -> float:  # pragma: no cover
        """Draw one duration in days from ``rng``."""
        raise NotImplementedError

    def cumhaz(self, t: float) -> float:  # pragma: no cover
        """Cumulative hazard ``-log S(t)`` at ``t`` days (dimensionless)."""
        raise NotImplementedError

    def inv_cumhaz(self, h: float) -> float:  # pragma: no cover
        """The time in days at which the cumulative hazard reaches ``h``."""
        raise NotImplementedError


class Exponential(_Dist):
    """Memoryless duration with the given mean (days)."""

    dist: Literal["exponential"]
    mean_days: float = Field(gt=0)

    def mean(self) -> float:
        """Mean in days."""
        return self.mean_days

    def var(self) -> float:
        """Variance in days squared."""
        return self.mean_days**2

    def sample(self, rng: Draws) -> float:
        """Draw one duration (days)."""
        return rng.expovariate(1.0 / self.mean_days)

    def cumhaz(self, t: float) -> float:
        """Cumulative hazard at ``t`` days."""
        return t / self.mean_days if t > 0 else 0.0

    def inv_cumhaz(self, h: float) -> float:
        """Days at which the cumulative hazard reaches ``h``."""
        return h * self.mean_days


class Weibull(_Dist):
    """Weibull duration: ``shape`` < 1 gives a falling hazard (early drop-out)."""

    dist: Literal["weibull"]
    shape: float = Field(gt=0)
    scale_days: float = Field(gt=0)

    def mean(self) -> float:
        """Mean in days."""
        return self.scale_days * math.gamma(1 + 1 / self.shape)

    def var(self) -> float:
        """Variance in days squared."""
        g1 = math.gamma(1 + 1 / self.shape)
        g2 = math.gamma(1 + 2 / self.shape)
        return self.scale_days**2 * (g2 - g1 * g1)

    def sample(self, rng: Draws) -> float:
        """Draw one duration (days)."""
        return rng.weibullvariate(self.scale_days, self.shape)

    def cumhaz(self, t: float) -> float:
        """Cumulative hazard at ``t`` days."""
        return (t / self.scale_days) ** self.shape if t > 0 else 0.0

    def inv_cumhaz(self, h: float) -> float:
        """Days at which the cumulative hazard reaches ``h``."""
        return self.scale_days * h ** (1 / self.shape) if h > 0 else 0.0


class Lognormal(_Dist):
    """Lognormal duration given by its own mean and standard deviation (days)."""

    dist: Literal["lognormal"]
    mean_days: float = Field(gt=0)
    sd_days: float = Field(gt=0)
    _mu: float = PrivateAttr()
    _sigma: float = PrivateAttr()

    def model_post_init(self, __context: object) -> None:
        """Convert mean/sd to the parameters of the underlying normal."""
        s2 = math.log(1 + (self.sd_days / self.mean_days) ** 2)
        self._sigma = math.sqrt(s2)
        self._mu = math.log(self.mean_days) - s2 / 2

    def mean(self) -> float:
        """Mean in days."""
        return self.mean_days

    def var(self) -> float:
        """Variance in days squared."""
        return self.sd_days**2

    def sample(self, rng: Draws) -> float:
        """Draw one duration (days)."""
        return rng.lognormvariate(self._mu, self._sigma)

    def cumhaz(self, t: float) -> float:
        """Cumulative hazard at ``t`` days."""
        if t <= 0:
            return 0.0
        z = (math.log(t) - self._mu) / self._sigma
        if z < 0:  # lower tail: log1p keeps precision where S(t) is close to 1
            return -math.log1p(-0.5 * math.erfc(-z / math.sqrt(2)))
        sf = 0.5 * math.erfc(z / math.sqrt(2))
        return -math.log(sf) if sf > 0 else _INF

    def inv_cumhaz(self, h: float) -> float:
        """Days at which the cumulative hazard reaches ``h``."""
        if h <= 0:
            return 0.0
        if h < math.log(2):  # F = 1 - exp(-h) is small: invert the CDF accurately
            return math.exp(self._mu + self._sigma * _STD_NORMAL.inv_cdf(-math.expm1(-h)))
        p = math.exp(-h)
        if p <= 0:
            return _INF
        return math.exp(self._mu - self._sigma * _STD_NORMAL.inv_cdf(p))


class Gamma(_Dist):
    """Gamma duration with ``shape`` and ``scale_days`` (mean = shape x scale)."""

    dist: Literal["gamma"]
    shape: float = Field(gt=0)
    scale_days: float = Field(gt=0)

    def mean(self) -> float:
        """Mean in days."""
        return self.shape * self.scale_days

    def var(self) -> float:
        """Variance in days squared."""
        return self.shape * self.scale_days**2

    def sample(self, rng: Draws) -> float:
        """Draw one duration (days)."""
        return rng.gammavariate(self.shape, self.scale_days)

    def cumhaz(self, t: float) -> float:
        """Cumulative hazard at ``t`` days."""
        if t <= 0:
            return 0.0
        x = t / self.scale_days
        cdf = float(_special().gammainc(self.shape, x))
        if cdf < 0.5:  # lower tail: log1p keeps precision where S(t) is close to 1
            return -math.log1p(-cdf)
        sf = float(_special().gammaincc(self.shape, x))
        return -math.log(sf) if sf > 0 else _INF

    def inv_cumhaz(self, h: float) -> float:
        """Days at which the cumulative hazard reaches ``h``."""
        if h <= 0:
            return 0.0
        if h < math.log(2):
            return self.scale_days * float(_special().gammaincinv(self.shape, -math.expm1(-h)))
        p = math.exp(-h)
        if p <= 0:
            return _INF
        return self.scale_days * float(_special().gammainccinv(self.shape, p))


class Fixed(_Dist):
    """A duration that is always ``days``."""

    dist: Literal["fixed"]
    days: float = Field(ge=0)

    def mean(self) -> float:
        """Mean in days."""
        return self.days

    def var(self) -> float:
        """Variance (zero)."""
        return 0.0

    def sample(self, rng: Draws) -> float:
        """Return ``days`` (no draw is made)."""
        return self.days

    def cumhaz(self, t: float) -> float:
        """Zero before ``days``, infinite from then on."""
        return 0.0 if t < self.days else _INF

    def inv_cumhaz(self, h: float) -> float:
        """Always ``days``."""
        return self.days


class Empirical(_Dist):
    """A discrete distribution over observed durations ``days`` (optionally weighted)."""

    dist: Literal["empirical"]
    days: list[Annotated[float, Field(ge=0)]] = Field(min_length=1)
    weights: list[Annotated[float, Field(gt=0)]] | None = None
    _values: list[float] = PrivateAttr()
    _cum: list[float] = PrivateAttr()
    _haz: list[float] = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _check_weights(cls, data: Any) -> Any:
        if isinstance(data, dict):
            days, weights = data.get("days"), data.get("weights")
            if isinstance(days, list) and isinstance(weights, list) \
                    and len(weights) != len(days):
                raise ValueError(
                    f"weights must have one entry per value in days ({len(days)}), "
                    f"got {len(weights)}"
                )
        return data

    def model_post_init(self, __context: object) -> None:
        """Sort the support and build the cumulative probabilities."""
        w = self.weights or [1.0] * len(self.days)
        pairs = sorted(zip(self.days, w, strict=True))
        total = sum(p for _, p in pairs)
        values, cum, acc = [], [], 0.0
        for v, p in pairs:
            acc += p / total
            values.append(v)
            cum.append(acc)
        cum[-1] = 1.0
        self._values, self._cum = values, cum
        # cumulative hazard at each support point, so cumhaz and inv_cumhaz round-trip
        self._haz = [-math.log1p(-c) if c < 1.0 else _INF for c in cum]

    def mean(self) -> float:
        """Mean in days."""
        prev, m = 0.0, 0.0
        for v, c in zip(self._values, self._cum, strict=True):
            m += v * (c - prev)
            prev = c
        return m

    def var(self) -> float:
        """Variance in days squared."""
        mu, prev, s = self.mean(), 0.0, 0.0
        for v, c in zip(self._values, self._cum, strict=True):
            s += (v - mu) ** 2 * (c - prev)
            prev = c
        return s

    def _quantile(self, u: float) -> float:
        return self._values[min(bisect_left(self._cum, u), len(self._values) - 1)]

    def sample(self, rng: Draws) -> float:
        """Draw one duration (days)."""
        return self._quantile(rng.random())

    def cumhaz(self, t: float) -> float:
        """Cumulative hazard at ``t`` days (a step function)."""
        i = bisect_right(self._values, t)  # values at or below t
        return self._haz[i - 1] if i > 0 else 0.0

    def inv_cumhaz(self, h: float) -> float:
        """Days at which the cumulative hazard reaches ``h``."""
        return self._values[min(bisect_left(self._haz, h), len(self._values) - 1)]


Distribution = Annotated[
    Exponential | Weibull | Lognormal | Gamma | Fixed | Empirical,
    Field(discriminator="dist"),
]
"""Any declared duration distribution, chosen by its ``dist`` key."""
