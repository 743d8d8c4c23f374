"""numnet.optimizers.schedules: formulas and config round trips."""

import math

import numpy as np
import pytest

from numnet.optimizers import schedules


def _values(schedule, steps):
    return [float(schedule(s)) for s in steps]


def test_exponential_decay():
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    expected = [0.1 * 0.5 ** (k / 10) for k in (0, 5, 10, 25)]
    np.testing.assert_allclose(_values(s, (0, 5, 10, 25)), expected, rtol=1e-6)
    st = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    np.testing.assert_allclose(_values(st, (0, 9, 10, 25)), [0.1, 0.1, 0.05, 0.025],
                               rtol=1e-6)
    assert isinstance(s(3), np.float32)


def test_piecewise_constant_decay():
    s = schedules.PiecewiseConstantDecay(boundaries=[100, 200], values=[1.0, 0.5, 0.1])
    np.testing.assert_allclose(_values(s, (0, 100, 101, 200, 201, 10_000)),
                               [1.0, 1.0, 0.5, 0.5, 0.1, 0.1])
    with pytest.raises(ValueError, match="1 less"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0, 2.0])


def test_polynomial_decay():
    s = schedules.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01, power=2.0)
    expected = [(0.1 - 0.01) * (1 - min(k, 10) / 10) ** 2 + 0.01 for k in (0, 5, 10, 20)]
    np.testing.assert_allclose(_values(s, (0, 5, 10, 20)), expected, rtol=1e-6)
    c = schedules.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.0, cycle=True)
    # step 15: decay_steps becomes 10 * ceil(15 / 10) = 20
    np.testing.assert_allclose(_values(c, (0, 15)), [0.1, 0.1 * (1 - 15 / 20)], rtol=1e-6)


def test_inverse_time_decay():
    s = schedules.InverseTimeDecay(0.1, decay_steps=4, decay_rate=0.5)
    np.testing.assert_allclose(_values(s, (0, 2, 8)),
                               [0.1, 0.1 / (1 + 0.5 * 0.5), 0.1 / (1 + 0.5 * 2)], rtol=1e-6)
    st = schedules.InverseTimeDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=True)
    np.testing.assert_allclose(_values(st, (3, 4)), [0.1, 0.1 / 1.5], rtol=1e-6)


def test_cosine_decay():
    s = schedules.CosineDecay(0.1, decay_steps=10, alpha=0.2)

    def expected(k, base=0.1, steps=10):
        k = min(k, steps)
        return base * (0.8 * 0.5 * (1 + math.cos(math.pi * k / steps)) + 0.2)

    np.testing.assert_allclose(_values(s, (0, 3, 10, 50)),
                               [expected(k) for k in (0, 3, 10, 50)], rtol=1e-6)
    w = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=0.2, warmup_steps=4)
    np.testing.assert_allclose(_values(w, (0, 2, 4, 9, 100)),
                               [0.0, 0.1, 0.2, 0.2 * 0.5 * (1 + math.cos(math.pi * 0.5)),
                                0.0], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("schedule", [
    schedules.ExponentialDecay(0.1, 10, 0.9, staircase=True),
    schedules.PiecewiseConstantDecay([5], [0.1, 0.01]),
    schedules.PolynomialDecay(0.1, 10, cycle=True),
    schedules.InverseTimeDecay(0.1, 10, 0.5),
    schedules.CosineDecay(0.1, 10, alpha=0.1),
])
def test_serialize_round_trip(schedule):
    envelope = schedules.serialize(schedule)
    assert envelope["module"] == "keras.optimizers.schedules"
    assert envelope["class_name"] == type(schedule).__name__
    clone = schedules.deserialize(envelope)
    assert type(clone) is type(schedule)
    assert clone.get_config() == schedule.get_config()
    assert type(schedule).from_config(schedule.get_config()).get_config() == \
        schedule.get_config()
    assert _values(clone, (0, 7, 30)) == _values(schedule, (0, 7, 30))


def test_default_names_and_configs():
    assert schedules.ExponentialDecay(0.1, 1, 0.5).get_config() == {
        "initial_learning_rate": 0.1, "decay_steps": 1, "decay_rate": 0.5,
        "staircase": False, "name": "ExponentialDecay"}
    assert schedules.PiecewiseConstantDecay([1], [1.0, 0.5]).name == "PiecewiseConstant"
    assert schedules.PolynomialDecay(0.1, 5).get_config() == {
        "initial_learning_rate": 0.1, "decay_steps": 5, "end_learning_rate": 0.0001,
        "power": 1.0, "cycle": False, "name": "PolynomialDecay"}
    assert schedules.CosineDecay(0.1, 5).get_config() == {
        "initial_learning_rate": 0.1, "decay_steps": 5, "alpha": 0.0,
        "name": "CosineDecay", "warmup_target": None, "warmup_steps": 0}
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)


def test_custom_schedule_subclass():
    class Halving(schedules.LearningRateSchedule):
        def __call__(self, step):
            return 1.0 / 2 ** float(step)

        def get_config(self):
            return {}

    assert float(Halving()(3)) == 0.125
    with pytest.raises(NotImplementedError):
        schedules.LearningRateSchedule()(0)
