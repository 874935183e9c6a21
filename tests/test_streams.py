"""Tests for :mod:`sim.streams`: named, order-independent random-number streams."""

from __future__ import annotations

import hashlib
import random
import struct

import pytest

from sim.model.draws import PersonStream, person_seed
from sim.streams import Streams, derive_seed

pytestmark = pytest.mark.unit

N_DRAWS = 50


def _draws(rng: random.Random | PersonStream, n: int = N_DRAWS) -> list[float]:
    return [rng.random() for _ in range(n)]


# --------------------------------------------------------------------------- derive_seed


def test_derive_seed_regression_value():
    # Regression guard: these values were computed once from the current BLAKE2b
    # derivation. If this test fails, the seed derivation changed, which silently
    # changes every stream (and so every published result) for a given seed. Only
    # update the constants if that change is intended.
    assert derive_seed(20240101, 3, "incidence") == 100044043796670563904933979148194357319
    assert derive_seed(0, 0, "person.0") == 180637830406232793700202433731607775762


def test_derive_seed_is_deterministic_and_128_bit():
    a = derive_seed(42, 1, "incidence")
    assert a == derive_seed(42, 1, "incidence")
    assert 0 <= a < 2**128


def test_derive_seed_coerces_integer_like_inputs():
    assert derive_seed(42, 1, "x") == derive_seed(42.0, True, "x")  # int(42.0), int(True)


def test_derive_seed_distinguishes_every_component():
    base = derive_seed(42, 1, "incidence")
    assert derive_seed(43, 1, "incidence") != base
    assert derive_seed(42, 2, "incidence") != base
    assert derive_seed(42, 1, "incidence2") != base
    # The "/" separator keeps (seed, replication) from bleeding into each other.
    assert derive_seed(1, 23, "x") != derive_seed(12, 3, "x")


def test_derive_seed_no_collisions_over_a_grid():
    seeds = {
        derive_seed(s, r, n)
        for s in range(5)
        for r in range(5)
        for n in ["incidence", "referral", "dropout", *(f"person.{i}" for i in range(20))]
    }
    assert len(seeds) == 5 * 5 * 23


# --------------------------------------------------------------------------- named streams


def test_same_triple_gives_identical_draws_across_instances():
    a = Streams(seed=123, replication=4).get("incidence")
    b = Streams(seed=123, replication=4).get("incidence")
    assert _draws(a) == _draws(b)


def test_stream_matches_random_seeded_with_derived_seed():
    rng = Streams(seed=9, replication=2).get("referral")
    ref = random.Random(derive_seed(9, 2, "referral"))
    assert _draws(rng) == _draws(ref)


def test_draws_independent_of_creation_order():
    names = ["incidence", "referral", "dropout", "relapse"]
    reference = {n: _draws(Streams(7, 0).get(n)) for n in names}

    s = Streams(7, 0)
    # Create, and draw heavily from, other streams first, in reverse order.
    for other in reversed(names[1:]):
        _draws(s.get(other), 1000)
    _draws(_person(s, 5), 1000)
    _draws(s.get("a-new-stream-added-later"), 1000)
    assert _draws(s.get("incidence")) == reference["incidence"]

    s2 = Streams(7, 0)
    for n in reversed(names):
        assert _draws(s2.get(n)) == reference[n]


def test_get_caches_the_stream_and_continues_it():
    s = Streams(1, 0)
    rng = s.get("incidence")
    assert s.get("incidence") is rng
    first = _draws(rng, 10)
    second = _draws(s.get("incidence"), 10)
    full = _draws(Streams(1, 0).get("incidence"), 20)
    assert first + second == full


@pytest.mark.parametrize(
    ("other_seed", "other_rep", "other_name"),
    [
        (11, 0, "incidence2"),  # different name
        (11, 1, "incidence"),  # different replication
        (12, 0, "incidence"),  # different seed
    ],
)
def test_different_triple_gives_different_draws(other_seed, other_rep, other_name):
    base = _draws(Streams(11, 0).get("incidence"))
    other = _draws(Streams(other_seed, other_rep).get(other_name))
    assert other != base
    assert set(other).isdisjoint(base)  # not merely shifted copies of one sequence


def test_replications_differ_for_every_named_stream():
    draws = {r: _draws(Streams(5, r).get("incidence")) for r in range(10)}
    assert len({tuple(d) for d in draws.values()}) == 10


# --------------------------------------------------------------------------- person streams


def _person(s: Streams, pid: int) -> PersonStream:
    return PersonStream(person_seed(s.person_prefix, pid))


def test_person_seed_is_the_hash_of_seed_replication_and_id():
    """The seed goes on from the hash of the key's common part; it must equal hashing the
    whole key ``seed/replication/@person/id`` at once."""
    for seed, rep, pid in [(0, 0, 0), (3, 1, 17), (20240101, 19, 10**7)]:
        whole = hashlib.blake2b(f"{seed}/{rep}/@person/{pid}".encode(), digest_size=24)
        assert person_seed(Streams(seed, rep).person_prefix, pid) == struct.unpack("<6I", whole.digest())


def test_person_stream_reproducible_and_not_shared():
    s = Streams(3, 1)
    a, b = _person(s, 17), _person(s, 17)
    assert a is not b  # a fresh stream each call: the person keeps their own
    assert _draws(a) == _draws(b)
    # person streams live apart from named streams: no name can collide with them
    assert _draws(_person(Streams(3, 1), 17)) != _draws(Streams(3, 1).get("person.17"))


def test_person_stream_unaffected_by_other_activity():
    ref = _draws(_person(Streams(3, 1), 17))
    s = Streams(3, 1)
    for i in range(17):
        _draws(_person(s, i), 100)
    _draws(s.get("incidence"), 1000)
    assert _draws(_person(s, 17)) == ref


def test_person_streams_distinct():
    s = Streams(3, 1)
    firsts = {tuple(_draws(_person(s, i), 5)) for i in range(500)}
    assert len(firsts) == 500


def test_person_streams_differ_across_replications_and_seeds():
    base = _draws(_person(Streams(3, 1), 17))
    assert _draws(_person(Streams(3, 2), 17)) != base
    assert _draws(_person(Streams(4, 1), 17)) != base


def test_person_streams_distinct_from_named_streams():
    s = Streams(3, 1)
    person = _draws(_person(s, 0))
    for name in ["incidence", "referral", "person", "0", "person0"]:
        assert _draws(Streams(3, 1).get(name)) != person


def test_streams_attributes_are_ints():
    s = Streams("8", 2.0)
    assert (s.seed, s.replication) == (8, 2)
    assert _draws(s.get("x")) == _draws(Streams(8, 2).get("x"))
