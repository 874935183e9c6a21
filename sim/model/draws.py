"""A person's own random stream: L'Ecuyer's MRG32k3a, six numbers of state.

Each person draws from their own stream, so that their draws stay the same across
scenarios wherever their path is the same (common random numbers). A Mersenne Twister
per person kept 2.5 KB of state for every person alive and took about 7 µs to make;
this generator keeps six floats and is seeded by setting them.

MRG32k3a is the combined multiple-recursive generator of L'Ecuyer (1999), "Good
parameters and implementations for combined multiple recursive random number
generators", Operations Research 47(1): the generator of R's ``"L'Ecuyer-CMRG"`` streams
and of many simulation packages. Its period is about 2^191; each person's stream starts
at a point of it set by hashing ``(seed, replication, person)``
(:func:`person_seed`), so two people's few thousand draws overlap
with negligible probability. The arithmetic is the original floating-point
one, so each step is exact in doubles and the same with or without compilation. Each
uniform has 32 bits of resolution and lies strictly inside (0, 1).

The non-uniform draws are the standard library's algorithms, run on this stream: the
exponential, normal, lognormal and Weibull ones restated here (one to four lines each, so
that they run compiled), the gamma by calling :meth:`random.Random.gammavariate` itself.
"""

from __future__ import annotations

import math
import random
import struct
from typing import Any, Final

from mypy_extensions import mypyc_attr

__all__ = ["PersonStream", "M1", "M2"]

M1: Final = 4294967087.0
"""The first component's modulus, 2^32 - 209."""
M2: Final = 4294944443.0
"""The second component's modulus, 2^32 - 22853."""
_A12: Final = 1403580.0  # the recurrences' multipliers
_A13N: Final = 810728.0
_A21: Final = 527612.0
_A23N: Final = 1370589.0
_NORM: Final = 2.328306549295727688e-10  # 1 / (M1 + 1)
_NV_MAGIC: Final = 4 * math.exp(-0.5) / math.sqrt(2.0)  # random.NV_MAGICCONST

_STDLIB: Any = random.Random  # its variate methods, called on this stream
_SEED_WORDS: Final = struct.Struct("<6I")


def person_seed(prefix: Any, person_id: int) -> tuple[int, int, int, int, int, int]:
    """The seed of person ``person_id``'s own stream (what :class:`PersonStream` is made
    from): six 32-bit integers, the BLAKE2b hash of ``(seed, replication,
    "@person/<id>")``, gone on from ``prefix``, the hash of the key's common part
    (:attr:`sim.streams.Streams.person_prefix`), so that each person only adds their id."""
    digest = prefix.copy()
    digest.update(str(person_id).encode())
    return _SEED_WORDS.unpack(digest.digest())  # type: ignore[no-any-return]


def _component(a: int, b: int, c: int, modulus: float) -> tuple[float, float, float]:
    """One component's three state values from three seed words."""
    m = int(modulus)
    x, y, z = float(a % m), float(b % m), float(c % m)
    if x == 0.0 and y == 0.0 and z == 0.0:
        return 1.0, 0.0, 0.0
    return x, y, z


@mypyc_attr(acyclic=True)  # six floats: compiled, not tracked by the cyclic collector
class PersonStream:
    """One person's MRG32k3a stream.

    :param seed: six non-negative integers (:func:`person_seed`'s
        32-bit words). The first three are taken modulo ``M1`` and the last three modulo
        ``M2``; a component left all zero (probability about 2^-96) starts at (1, 0, 0).
    """

    __slots__ = ("s10", "s11", "s12", "s20", "s21", "s22")

    def __init__(self, seed: tuple[int, int, int, int, int, int]) -> None:
        a, b, c, d, e, f = seed
        self.s10, self.s11, self.s12 = _component(a, b, c, M1)
        self.s20, self.s21, self.s22 = _component(d, e, f, M2)

    def random(self) -> float:
        """The next uniform draw in (0, 1) (dimensionless)."""
        # L'Ecuyer's reduction: subtract the truncated quotient's multiple, then fold a
        # negative remainder up. Division rounds monotonically and the integer quotient is
        # exact in a double, so the quotient is never one too small; when it is one too
        # large the remainder is negative and folded. (fmod is several times slower.)
        p1 = _A12 * self.s11 - _A13N * self.s10
        p1 -= float(int(p1 / M1)) * M1
        if p1 < 0.0:
            p1 += M1
        self.s10 = self.s11
        self.s11 = self.s12
        self.s12 = p1
        p2 = _A21 * self.s22 - _A23N * self.s20
        p2 -= float(int(p2 / M2)) * M2
        if p2 < 0.0:
            p2 += M2
        self.s20 = self.s21
        self.s21 = self.s22
        self.s22 = p2
        if p1 > p2:
            return (p1 - p2) * _NORM
        return (p1 - p2 + M1) * _NORM

    def expovariate(self, lambd: float) -> float:
        """An exponential draw with rate ``lambd`` (per unit of the result), as
        :meth:`random.Random.expovariate` draws it."""
        return exponential(self.random(), lambd)

    def normalvariate(self, mu: float, sigma: float) -> float:
        """A normal draw: mean ``mu``, standard deviation ``sigma``. Kinderman and
        Monahan's ratio of uniforms, as :meth:`random.Random.normalvariate` draws it."""
        while True:
            u1 = self.random()
            u2 = 1.0 - self.random()
            z = _NV_MAGIC * (u1 - 0.5) / u2
            if z * z / 4.0 <= -math.log(u2):
                return mu + z * sigma

    def lognormvariate(self, mu: float, sigma: float) -> float:
        """A lognormal draw: ``mu`` and ``sigma`` of its logarithm
        (as :meth:`random.Random.lognormvariate` draws it)."""
        return math.exp(self.normalvariate(mu, sigma))

    def weibullvariate(self, alpha: float, beta: float) -> float:
        """A Weibull draw: scale ``alpha``, shape ``beta``
        (as :meth:`random.Random.weibullvariate` draws it)."""
        return alpha * (-math.log(1.0 - self.random())) ** (1.0 / beta)

    def gammavariate(self, alpha: float, beta: float) -> float:
        """A gamma draw: shape ``alpha``, scale ``beta``
        (:meth:`random.Random.gammavariate`'s method)."""
        return float(_STDLIB.gammavariate(self, alpha, beta))


def exponential(uniform: float, lambd: float) -> float:
    """The exponential draw with rate ``lambd`` (per unit of the result) that
    :meth:`random.Random.expovariate` makes from the uniform draw ``uniform`` (so a
    named stream's draw, ``exponential(rng.random(), rate)``, equals
    ``rng.expovariate(rate)`` without the call into Python)."""
    return -math.log(1.0 - uniform) / lambd
