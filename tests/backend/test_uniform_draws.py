"""`backend.uniform_at_least`: the raw-bits Dropout draw against NumPy's float32 draws."""

import numpy as np
import pytest

from numnet.backend import uniform_at_least


def _next_draws(generator):
    """What the generator draws next, in both of the ways that read its pending half."""
    return generator.random(5, dtype=np.float32), generator.random(3)


@pytest.mark.parametrize("shape", [(32, 300), (4, 5), (2, 3, 7), (1, 9), (6,), (1,), (0, 4), ()])
@pytest.mark.parametrize("threshold", [0.0, 0.2, 0.5, 1 / 3, 0.999999])
def test_the_mask_and_the_generator_after_it_are_numpys(shape, threshold):
    for seed in range(3):
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        for _ in range(3):  # a pending half after an odd count changes the route: checked too
            got = uniform_at_least(ours, shape, threshold)
            expected = theirs.random(shape, dtype=np.float32) >= np.float32(threshold)
            assert got.dtype == bool and got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)
        for a, b in zip(_next_draws(ours), _next_draws(theirs)):
            np.testing.assert_array_equal(a, b)


def test_other_generators_and_a_pending_half_give_numpys_mask_too():
    for make in (lambda: np.random.Generator(np.random.MT19937(3)),
                 lambda: np.random.Generator(np.random.Philox(3))):
        ours, theirs = make(), make()
        np.testing.assert_array_equal(uniform_at_least(ours, (8, 4), 0.3),
                                      theirs.random((8, 4), dtype=np.float32) >= np.float32(0.3))
    ours, theirs = np.random.default_rng(1), np.random.default_rng(1)
    ours.random(1, dtype=np.float32), theirs.random(1, dtype=np.float32)  # half a draw pending
    np.testing.assert_array_equal(uniform_at_least(ours, (10,), 0.4),
                                  theirs.random(10, dtype=np.float32) >= np.float32(0.4))


def test_the_mask_is_written_into_out_contiguous_or_not():
    for out in (np.empty((6, 4), dtype=bool), np.empty((4, 6), dtype=bool).T):
        got = uniform_at_least(np.random.default_rng(0), (6, 4), 0.5, out=out)
        assert got is out
        np.testing.assert_array_equal(
            out, np.random.default_rng(0).random((6, 4), dtype=np.float32) >= np.float32(0.5))


def test_the_integer_threshold_is_the_float_comparison_at_its_boundary():
    from numnet.backend.random import lowest_kept_bits
    for threshold in [0.0, 0.1, 0.2, 0.25, 1 / 3, 0.5, 0.7, 0.9, 0.999999, 2.0**-24, 1 - 2.0**-24]:
        bits = int(lowest_kept_bits(threshold))
        assert bits % 256 == 0
        for candidate in (bits, bits + 255):  # kept: its float is at least the threshold
            assert np.float32((candidate >> 8) * 2.0**-24) >= np.float32(threshold)
        if bits:  # the draw just below is dropped
            assert np.float32(((bits - 1) >> 8) * 2.0**-24) < np.float32(threshold)


def test_a_bound_kernel_follows_each_generator_it_is_handed():
    from numnet.backend import uniform_at_least_kernel
    out = np.empty((3, 5), dtype=bool)  # an odd count: the pending half alternates
    draw = uniform_at_least_kernel(out, 0.3)
    makers = [lambda: np.random.default_rng(0), lambda: np.random.default_rng(1),
              lambda: np.random.Generator(np.random.MT19937(2))]
    ours, theirs = [m() for m in makers], [m() for m in makers]
    for i in [0, 0, 1, 0, 2, 1, 1, 0, 2]:
        assert draw(ours[i]) is out
        np.testing.assert_array_equal(out, theirs[i].random((3, 5), dtype=np.float32) >= np.float32(0.3))
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.random(4, dtype=np.float32), b.random(4, dtype=np.float32))


@pytest.mark.parametrize("confirmed", [None, False])
def test_the_raw_route_is_checked_once_and_the_float_route_gives_the_same(monkeypatch, confirmed):
    from numnet.backend import random as backend_random
    monkeypatch.setattr(backend_random, "_RAW_ROUTE_CONFIRMED", [confirmed])
    assert backend_random.raw_route_confirmed() is (confirmed is None)  # NumPy's, as checked
    bits = np.random.PCG64(7)
    pending = backend_random._PendingHalf(bits)
    for _ in range(3):
        assert pending.flag.value == bits.state["has_uint32"]
        assert pending.bits.value == bits.state["uinteger"]
        np.random.Generator(bits).random(dtype=np.float32)
    ours, theirs = np.random.default_rng(3), np.random.default_rng(3)
    for shape in [(5,), (4, 4), (3,)]:
        np.testing.assert_array_equal(uniform_at_least(ours, shape, 0.6),
                                      theirs.random(shape, dtype=np.float32) >= np.float32(0.6))
    for a, b in zip(_next_draws(ours), _next_draws(theirs)):
        np.testing.assert_array_equal(a, b)


def test_a_pending_half_and_an_odd_count_stay_on_the_raw_draws():
    class Counting(np.random.Generator):
        floats = 0

        def random(self, *args, **kwargs):
            Counting.floats += 1
            return super().random(*args, **kwargs)

    ours = Counting(np.random.PCG64(4))
    theirs = np.random.default_rng(4)
    ours.random(dtype=np.float32), theirs.random(dtype=np.float32)  # a half pending
    Counting.floats = 0
    for shape in [(9,), (4, 4), (7,), (1,), (6,)]:  # pending before and after: both ways
        np.testing.assert_array_equal(uniform_at_least(ours, shape, 0.3),
                                      theirs.random(shape, dtype=np.float32) >= np.float32(0.3))
    assert Counting.floats == 0
    np.testing.assert_array_equal(ours.random(5, dtype=np.float32),
                                  theirs.random(5, dtype=np.float32))
