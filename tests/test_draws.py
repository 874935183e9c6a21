"""Tests for :mod:`sim.model.draws`: a person's MRG32k3a stream and the draws made on it.

The generator is checked against L'Ecuyer's published first outputs and against exact
integer arithmetic; the draws against their distributions' means and variances, within
99.9% confidence intervals of fixed-seed samples."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from sim.model.draws import M1, M2, PersonStream

pytestmark = pytest.mark.unit

Z = 3.29  # two-sided 99.9%
N = 40_000
NORM = 2.328306549295727688e-10
"""The published output factor, 1 / (M1 + 1) rounded."""
SEED = (20261201, 7, 99, 123456789, 42, 4000000000)


def test_the_first_outputs_from_the_reference_seed_are_lecuyers():
    """All six state values 12345: the first uniforms published with RngStreams."""
    rng = PersonStream((12345,) * 6)
    assert [rng.random() for _ in range(5)] == [
        0.12701112204657714, 0.3185275653967945, 0.3091860155832701,
        0.8258468629271136, 0.2216299157820229]


def test_the_floating_point_steps_are_the_exact_integer_recurrence():
    rng = PersonStream(SEED)
    s1 = [v % int(M1) for v in SEED[:3]]
    s2 = [v % int(M2) for v in SEED[3:]]
    for _ in range(20_000):
        u = rng.random()
        p1 = (1403580 * s1[1] - 810728 * s1[0]) % int(M1)
        p2 = (527612 * s2[2] - 1370589 * s2[0]) % int(M2)
        s1 = [s1[1], s1[2], p1]
        s2 = [s2[1], s2[2], p2]
        assert u == ((p1 - p2) % int(M1) or int(M1)) * NORM
        assert 0.0 < u < 1.0
    assert (rng.s10, rng.s11, rng.s12, rng.s20, rng.s21, rng.s22) == (*s1, *s2)


def test_an_all_zero_component_starts_from_one():
    rng = PersonStream((0, 0, 0, int(M2), 0, 0))  # M2 is zero modulo M2
    assert (rng.s10, rng.s11, rng.s12, rng.s20, rng.s21, rng.s22) == (1, 0, 0, 1, 0, 0)
    assert 0.0 < rng.random() < 1.0


def _within(xs: list[float], mean: float, var: float) -> None:
    """The sample mean lies within the 99.9% interval around ``mean``."""
    half = Z * math.sqrt(var / len(xs))
    assert abs(statistics.fmean(xs) - mean) <= half, (statistics.fmean(xs), mean, half)


def test_uniforms_have_the_uniform_mean_variance_and_no_lag_one_correlation():
    rng = PersonStream(SEED)
    xs = [rng.random() for _ in range(N)]
    _within(xs, 0.5, 1 / 12)
    _within([(x - 0.5) ** 2 for x in xs], 1 / 12, 1 / 180)  # Var of (U-1/2)^2 = 1/180
    _within([(a - 0.5) * (b - 0.5) for a, b in zip(xs[:-1], xs[1:], strict=True)], 0.0, 1 / 144)


@pytest.mark.parametrize("draw, mean, var", [
    (lambda r: r.expovariate(0.25), 4.0, 16.0),
    (lambda r: r.normalvariate(3.0, 2.0), 3.0, 4.0),
    (lambda r: r.lognormvariate(0.5, 0.4),
     math.exp(0.5 + 0.08), (math.exp(0.16) - 1) * math.exp(1.0 + 0.16)),
    (lambda r: r.weibullvariate(120.0, 0.7),
     120.0 * math.gamma(1 + 1 / 0.7),
     120.0**2 * (math.gamma(1 + 2 / 0.7) - math.gamma(1 + 1 / 0.7) ** 2)),
    (lambda r: r.gammavariate(0.6, 10.0), 6.0, 60.0),
    (lambda r: r.gammavariate(2.5, 10.0), 25.0, 250.0),
])
def test_each_draw_has_its_distributions_mean(draw, mean, var):
    rng = PersonStream(SEED)
    _within([draw(rng) for _ in range(N)], mean, var)


def test_the_draws_are_the_standard_librarys_algorithms_on_this_stream():
    """Each draw restated in :mod:`sim.model.draws` gives what :class:`random.Random`'s
    method gives when it runs on the same uniforms."""

    class Replay(random.Random):
        def __init__(self, seed):
            super().__init__()
            self.stream = PersonStream(seed)

        def random(self):
            return self.stream.random()

    for name, args in [("expovariate", (0.3,)), ("normalvariate", (1.0, 2.0)),
                       ("lognormvariate", (0.2, 0.9)), ("weibullvariate", (50.0, 1.4)),
                       ("gammavariate", (0.7, 3.0))]:
        ours, theirs = PersonStream(SEED), Replay(SEED)
        assert [getattr(ours, name)(*args) for _ in range(500)] == [
            getattr(theirs, name)(*args) for _ in range(500)], name
