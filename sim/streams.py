"""Named, order-independent random-number streams.

Every random input of the model draws from its own stream, found by name
(``streams.get("incidence")``) or by person (seeded by
:func:`sim.model.draws.person_seed` from :attr:`Streams.person_prefix`). A stream's
state is derived only from ``(seed, replication, name)`` by hashing, never from
the order in which streams are created, so:

* adding a stream never shifts the draws of another;
* replication *i* of every scenario sees the same draws for the same named input
  (common random numbers), which makes paired comparisons between scenarios sharp;
* a person's own draws (attributes, time to referral, ...) come from that person's
  stream, so they stay the same across scenarios wherever the person's path is the same.

Named streams are :class:`random.Random` instances (Mersenne Twister): scalar draws from
them are an order of magnitude cheaper than scalar draws from a NumPy generator,
which matters in a model that makes one or two draws per event. A person's stream is
:class:`sim.model.draws.PersonStream` (MRG32k3a, six numbers of state, compiled with the
model): there are hundreds of thousands of people alive in a national run, and a
Mersenne Twister each would keep 2.5 KB apiece.
"""

from __future__ import annotations

import hashlib
import random

__all__ = ["Streams", "derive_seed"]

def derive_seed(seed: int, replication: int, name: str) -> int:
    """Return a 128-bit integer seed for the stream ``name`` of ``replication``.

    The derivation is a keyed BLAKE2b hash, stable across Python versions and
    processes (unlike :func:`hash`).
    """
    key = f"{int(seed)}/{int(replication)}/{name}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=16).digest(), "little")


class Streams:
    """The random streams of one replication.

    :param seed: the run's base seed (an integer).
    :param replication: the replication number (0, 1, ...).
    """

    __slots__ = ("seed", "replication", "_named", "person_prefix")

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = int(seed)
        self.replication = int(replication)
        self._named: dict[str, random.Random] = {}
        self.person_prefix = hashlib.blake2b(
            f"{self.seed}/{self.replication}/@person/".encode(), digest_size=24)
        """The BLAKE2b state after the common part of every person's key, from which
        :func:`sim.model.draws.person_seed` goes on with a person's id."""

    def get(self, name: str) -> random.Random:
        """Return the stream called ``name``, creating it on first use."""
        rng = self._named.get(name)
        if rng is None:
            rng = random.Random(derive_seed(self.seed, self.replication, name))
            self._named[name] = rng
        return rng
