"""Optimizer API: defaults, names, configs, variables, clipping, weight decay, state."""

import math

import numpy as np
import pytest

from numnet import optimizers
from numnet.autodiff.tensor import Tensor, Variable
from numnet.backend import clear_session

BASE_DEFAULTS = {
    "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
    "loss_scale_factor": None, "gradient_accumulation_steps": None,
}
BASE_KEYS = ["name", "learning_rate", *BASE_DEFAULTS]

# (class, default name, default lr, extra config keys and defaults) as in Keras 3.15.
DEFAULTS = {
    "SGD": ("sgd", 0.01, {"momentum": 0.0, "nesterov": False}),
    "Adam": ("adam", 0.001, {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                             "amsgrad": False}),
    "AdamW": ("adam_w", 0.001, {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                                "amsgrad": False}),
    "RMSprop": ("rm_sprop", 0.001, {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7,
                                    "centered": False}),
    "Adagrad": ("adagrad", 0.001, {"initial_accumulator_value": 0.1, "epsilon": 1e-7}),
    "Nadam": ("nadam", 0.001, {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}),
}


def _vars(*shapes, names=None):
    rng = np.random.default_rng(0)
    names = names or [f"v{i}" for i in range(len(shapes))]
    out = []
    for shape, name in zip(shapes, names):
        v = Variable(rng.normal(size=shape).astype(np.float32), name=name)
        out.append(v)
    return out


@pytest.mark.parametrize("cls", list(DEFAULTS))
def test_default_config_matches_keras(cls):
    clear_session()
    name, lr, extra = DEFAULTS[cls]
    opt = getattr(optimizers, cls)()
    config = opt.get_config()
    assert list(config) == BASE_KEYS + list(extra)
    assert config["name"] == name
    assert config["learning_rate"] == float(np.float32(lr))  # stored as float32
    expected_base = dict(BASE_DEFAULTS)
    if cls == "AdamW":
        expected_base["weight_decay"] = 0.004
    assert {k: config[k] for k in BASE_DEFAULTS} == expected_base
    assert {k: config[k] for k in extra} == extra


@pytest.mark.parametrize("cls", list(DEFAULTS))
def test_serialize_round_trip(cls):
    opt = getattr(optimizers, cls)(learning_rate=0.05, clipnorm=1.5)
    envelope = optimizers.serialize(opt)
    assert envelope["module"] == "keras.optimizers"
    assert envelope["class_name"] == cls
    assert envelope["registered_name"] is None
    clone = optimizers.deserialize(envelope)
    assert type(clone) is getattr(optimizers, cls)
    assert clone.get_config() == opt.get_config()
    assert type(optimizers.get(envelope)) is type(opt)
    assert type(getattr(optimizers, cls).from_config(opt.get_config())) is type(opt)


def test_names_are_unique_like_keras():
    clear_session()
    assert optimizers.Adam().name == "adam"
    assert optimizers.Adam().name == "adam_1"
    assert optimizers.Adam(name="mine").name == "mine"
    clear_session()
    assert optimizers.SGD().name == "sgd"


def test_get_strings_instances_and_errors():
    for text, cls in [("sgd", optimizers.SGD), ("SGD", optimizers.SGD),
                      ("adam", optimizers.Adam), ("Adam", optimizers.Adam),
                      ("rmsprop", optimizers.RMSprop), ("RMSprop", optimizers.RMSprop),
                      ("adagrad", optimizers.Adagrad), ("nadam", optimizers.Nadam),
                      ("adamw", optimizers.AdamW), ("AdamW", optimizers.AdamW)]:
        assert type(optimizers.get(text)) is cls
    assert float(optimizers.get("sgd").learning_rate) == pytest.approx(0.01)
    opt = optimizers.Adam()
    assert optimizers.get(opt) is opt
    assert type(optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.2}})) \
        is optimizers.SGD
    with pytest.raises(ValueError, match="adam"):
        optimizers.get("adamm")


def test_constructor_errors():
    with pytest.raises(ValueError, match="not recognized"):
        optimizers.SGD(lr=0.1)
    with pytest.raises(ValueError, match="Only one of"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(learning_rate="fast")
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        optimizers.SGD(gradient_accumulation_steps=1)
    with pytest.warns(UserWarning, match="decay"):
        optimizers.SGD(decay=0.1)


@pytest.mark.parametrize("cls, kwargs, slots", [
    ("SGD", {}, []),
    ("SGD", {"momentum": 0.9}, [["momentum"]]),
    ("Adam", {}, [["momentum", "velocity"]]),
    ("Adam", {"amsgrad": True}, [["momentum", "velocity"], ["velocity_hat"]]),
    ("AdamW", {}, [["momentum", "velocity"]]),
    ("RMSprop", {}, [["velocity"]]),
    ("RMSprop", {"momentum": 0.5, "centered": True},
     [["velocity"], ["momentum"], ["average_gradient"]]),
    ("Adagrad", {}, [["accumulator"]]),
    ("Nadam", {}, [["momentum", "velocity"]]),
])
def test_variables_order_names_and_counts(cls, kwargs, slots):
    clear_session()
    ws = _vars((2, 3), (3,), names=["kernel", "bias"])
    ws[0].path, ws[1].path = "sequential/dense/kernel", "sequential/dense/bias"
    opt = getattr(optimizers, cls)(**kwargs)
    assert [v.name for v in opt.variables] == ["iteration", "learning_rate"]
    opt.apply_gradients([(np.ones((2, 3), np.float32), ws[0]),
                         (np.ones(3, np.float32), ws[1])])
    expected = ["iteration", "learning_rate"]
    for group in slots:  # interleaved within a group, groups one after the other
        for ref in ("sequential_dense_kernel", "sequential_dense_bias"):
            expected += [f"{ref}_{slot}" for slot in group]
    if cls == "Nadam":
        expected.append("variable")  # Keras' running product of the momentum cache
    assert [v.name for v in opt.variables] == expected
    prefix = opt.name
    assert [v.path for v in opt.variables] == [f"{prefix}/{n}" for n in expected]
    it, lr = opt.variables[:2]
    assert it.data.dtype == np.int64 and it.data.shape == () and not it.trainable
    assert lr.data.dtype == np.float32 and lr.data.shape == ()
    for v in opt.variables[2:]:
        assert not v.trainable and v.data.dtype == np.float32


def test_adam_on_two_weights_has_six_variables():
    ws = _vars((4, 2), (2,))
    opt = optimizers.Adam()
    opt.build(ws)
    assert len(opt.variables) == 2 + 4
    assert [v.data.shape for v in opt.variables[2:]] == [(4, 2), (4, 2), (2,), (2,)]


def test_adagrad_accumulators_start_at_initial_value():
    ws = _vars((2, 2))
    opt = optimizers.Adagrad(initial_accumulator_value=0.3)
    opt.build(ws)
    np.testing.assert_array_equal(opt.variables[2].data, np.full((2, 2), 0.3, np.float32))


def test_learning_rate_property_and_setter():
    opt = optimizers.SGD(learning_rate=0.1)
    lr = opt.learning_rate
    assert float(lr) == pytest.approx(0.1)
    assert lr.numpy().dtype == np.float32  # a float32 scalar Variable, as in Keras
    opt.learning_rate = 0.05
    assert float(opt.learning_rate) == pytest.approx(0.05)
    assert opt.get_config()["learning_rate"] == float(np.float32(0.05))
    opt.learning_rate.assign(0.02)
    assert float(opt.learning_rate) == pytest.approx(0.02)
    # The book's ExponentialLearningRate callback pattern.
    opt.learning_rate = opt.learning_rate.numpy() * 1.5
    assert float(opt.learning_rate) == pytest.approx(0.03)


def test_learning_rate_used_is_the_current_value():
    w = Variable(np.zeros(1, np.float32))
    opt = optimizers.SGD(learning_rate=0.1)
    opt.apply_gradients([(np.ones(1, np.float32), w)])
    opt.learning_rate = 1.0
    opt.apply_gradients([(np.ones(1, np.float32), w)])
    np.testing.assert_allclose(w.data, [-1.1], rtol=1e-6)


def test_schedule_learning_rate():
    schedule = optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = optimizers.SGD(learning_rate=schedule)
    assert [v.name for v in opt.variables] == ["iteration"]  # no learning_rate variable
    w = Variable(np.zeros(1, np.float32))
    for _ in range(3):
        opt.apply_gradients([(np.ones(1, np.float32), w)])
    # Steps use lr(0), lr(1), lr(2): the value *before* incrementing iterations.
    np.testing.assert_allclose(w.data, [-(0.1 + 0.05 + 0.025)], rtol=1e-6)
    assert float(opt.learning_rate) == pytest.approx(0.0125)  # lr(3)
    config = opt.get_config()
    assert config["learning_rate"] == {
        "module": "keras.optimizers.schedules", "class_name": "ExponentialDecay",
        "config": {"initial_learning_rate": 0.1, "decay_steps": 1, "decay_rate": 0.5,
                   "staircase": False, "name": "ExponentialDecay"},
        "registered_name": None,
    }
    clone = optimizers.SGD.from_config(config)
    assert isinstance(clone._learning_rate, optimizers.schedules.ExponentialDecay)
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.1


def test_callable_learning_rate():
    w = Variable(np.zeros(1, np.float32))
    opt = optimizers.SGD(learning_rate=lambda: 0.25)
    opt.apply_gradients([(np.ones(1, np.float32), w)])
    np.testing.assert_allclose(w.data, [-0.25])


def test_clipnorm_per_gradient():
    big = np.array([3.0, 4.0], np.float32)       # norm 5 -> scaled to norm 1
    small = np.array([0.3, 0.4], np.float32)     # norm 0.5 -> unchanged
    ws = [Variable(np.zeros(2, np.float32)), Variable(np.zeros(2, np.float32))]
    optimizers.SGD(learning_rate=1.0, clipnorm=1.0).apply_gradients(
        [(big, ws[0]), (small, ws[1])])
    np.testing.assert_allclose(ws[0].data, [-0.6, -0.8], rtol=1e-6)
    np.testing.assert_allclose(ws[1].data, [-0.3, -0.4], rtol=1e-6)


def test_global_clipnorm():
    g1, g2 = np.array([3.0, 0.0], np.float32), np.array([4.0], np.float32)  # global 5
    ws = [Variable(np.zeros(2, np.float32)), Variable(np.zeros(1, np.float32))]
    optimizers.SGD(learning_rate=1.0, global_clipnorm=2.5).apply_gradients(
        [(g1, ws[0]), (g2, ws[1])])
    np.testing.assert_allclose(ws[0].data, [-1.5, 0.0], rtol=1e-6)
    np.testing.assert_allclose(ws[1].data, [-2.0], rtol=1e-6)


def test_clipvalue():
    w = Variable(np.zeros(3, np.float32))
    optimizers.SGD(learning_rate=1.0, clipvalue=0.5).apply_gradients(
        [(np.array([2.0, -0.1, -7.0], np.float32), w)])
    np.testing.assert_allclose(w.data, [-0.5, 0.1, 0.5], rtol=1e-6)


def test_weight_decay_and_exclusion():
    kernel, bias = _vars((2, 2), (2,), names=["kernel", "bias"])
    k0, b0 = kernel.data.astype(np.float64), bias.data.astype(np.float64)
    opt = optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    gk, gb = np.ones((2, 2), np.float32), np.ones(2, np.float32)
    opt.apply_gradients([(gk, kernel), (gb, bias)])
    # Keras: w -= w * wd * lr before the update.
    np.testing.assert_allclose(kernel.data, k0 - k0 * 0.5 * 0.1 - 0.1, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(bias.data, b0 - 0.1, rtol=1e-6)
    with pytest.raises(ValueError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_names=["kernel"])

    kernel2 = _vars((2,))[0]
    opt2 = optimizers.AdamW(learning_rate=0.1)
    opt2.exclude_from_weight_decay(var_list=[kernel2])
    before = kernel2.data.copy()
    opt2.apply_gradients([(np.zeros(2, np.float32), kernel2)])
    np.testing.assert_array_equal(kernel2.data, before)  # zero grad, no decay


def test_none_gradients_and_non_trainable_variables_are_skipped():
    a, b, c = _vars((2,), (2,), (2,))
    c.trainable = False
    before_b, before_c = b.data.copy(), c.data.copy()
    opt = optimizers.SGD(learning_rate=0.1)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients([(np.ones(2, np.float32), a), (None, b),
                             (np.ones(2, np.float32), c)])
    np.testing.assert_array_equal(b.data, before_b)
    np.testing.assert_array_equal(c.data, before_c)
    with pytest.raises(ValueError, match="No gradients"):
        optimizers.SGD().apply_gradients([(None, a)])


def test_apply_without_variables_and_unknown_variables():
    a, b = _vars((2,), (2,))
    opt = optimizers.SGD(learning_rate=0.1)
    with pytest.raises(ValueError, match="must already be built"):
        opt.apply([np.ones(2, np.float32)])
    opt.build([a])
    before = a.data.copy()
    opt.apply([np.ones(2, np.float32)])
    np.testing.assert_allclose(a.data, before - 0.1, rtol=1e-6)
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply([np.ones(2, np.float32)], [b])


def test_iterations_counts_applies():
    (a,) = _vars((2,))
    opt = optimizers.Adam()
    assert int(opt.iterations) == 0
    for _ in range(3):
        result = opt.apply_gradients([(np.ones(2, np.float32), a)])
    assert int(opt.iterations) == 3 and int(result) == 3


def test_get_set_weights_and_own_variables_store():
    ws = _vars((2, 2), (2,))
    grads = [np.ones((2, 2), np.float32), np.ones(2, np.float32)]
    opt = optimizers.Adam(learning_rate=0.01)
    with pytest.raises(ValueError, match="not yet been built"):
        opt.set_weights([])
    opt.apply_gradients(zip(grads, ws))
    store = {}
    opt.save_own_variables(store)
    assert sorted(store, key=int) == [str(i) for i in range(6)]
    assert int(store["0"]) == 1
    weights = opt.get_weights()
    assert len(weights) == 6

    other = optimizers.Adam(learning_rate=0.5)
    other.build(ws)
    other.load_own_variables(store)
    for x, y in zip(other.get_weights(), weights):
        np.testing.assert_array_equal(x, y)
    assert float(other.learning_rate) == pytest.approx(0.01)

    third = optimizers.Adam()
    third.build(ws)
    third.set_weights(weights)
    assert int(third.iterations) == 1
    with pytest.raises(ValueError, match="not compatible"):
        third.set_weights([np.zeros(3)])

    unbuilt = optimizers.Adam()
    with pytest.warns(UserWarning, match="Skipping variable loading"):
        unbuilt.load_own_variables(store)


def test_loss_scale_factor_divides_gradients():
    (w,) = _vars((2,))
    before = w.data.copy()
    opt = optimizers.SGD(learning_rate=0.1, loss_scale_factor=4.0)
    assert opt.scale_loss(2.0) == 8.0
    opt.apply_gradients([(np.full(2, 4.0, np.float32), w)])
    np.testing.assert_allclose(w.data, before - 0.1, rtol=1e-6)


def test_gradient_accumulation():
    w = Variable(np.zeros(1, np.float32))
    opt = optimizers.SGD(learning_rate=1.0, gradient_accumulation_steps=2)
    opt.apply_gradients([(np.array([1.0], np.float32), w)])
    np.testing.assert_array_equal(w.data, [0.0])            # only accumulated
    assert int(opt.iterations) == 0
    opt.apply_gradients([(np.array([3.0], np.float32), w)])
    np.testing.assert_allclose(w.data, [-2.0])              # mean of 1 and 3
    assert int(opt.iterations) == 1
    assert [v.name for v in opt.variables][2:] == ["variable_gradient_accumulator"]


def test_ema():
    w = Variable(np.zeros(1, np.float32))
    opt = optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    opt.apply_gradients([(np.array([-2.0], np.float32), w)])   # w=2, avg=2 (first step)
    opt.apply_gradients([(np.array([-2.0], np.float32), w)])   # w=4, avg=.5*2+.5*4=3
    average = opt.variables[2]
    assert average.name == "variable_average"
    np.testing.assert_allclose(average.data, [3.0])
    opt.finalize_variable_values([w])
    np.testing.assert_allclose(w.data, [3.0])


def test_ema_overwrite_frequency():
    w = Variable(np.zeros(1, np.float32))
    opt = optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5,
                         ema_overwrite_frequency=2)
    opt.apply_gradients([(np.array([-2.0], np.float32), w)])
    np.testing.assert_allclose(w.data, [2.0])
    opt.apply_gradients([(np.array([-2.0], np.float32), w)])
    np.testing.assert_allclose(w.data, [3.0])   # overwritten by the average at step 2


def test_custom_optimizer_with_update_step():
    class SignSGD(optimizers.Optimizer):
        def __init__(self, learning_rate=0.1, **kwargs):
            super().__init__(learning_rate=learning_rate, **kwargs)

        def update_step(self, gradient, variable, learning_rate):
            self.assign_sub(variable, learning_rate * np.sign(gradient))

    clear_session()
    w = Variable(np.zeros(2, np.float32))
    opt = SignSGD()
    assert opt.name == "sign_sgd"
    opt.apply_gradients([(Tensor(np.array([3.0, -0.5], np.float32)), w)])
    np.testing.assert_allclose(w.data, [-0.1, 0.1], rtol=1e-6)


def test_updates_are_in_place():
    (w,) = _vars((3, 2))
    buffer = w.data
    for opt in (optimizers.SGD(), optimizers.SGD(momentum=0.9), optimizers.Adam(),
                optimizers.RMSprop(), optimizers.Adagrad(), optimizers.Nadam(),
                optimizers.AdamW()):
        opt.apply_gradients([(np.ones((3, 2), np.float32), w)])
        assert w.data is buffer and w.data.dtype == np.float32
    assert math.isfinite(float(w.data.sum()))


# ------------------------------------------------ the seam of the fused SGD step
def _prepared(optimizer, shapes=((3, 2), (2,))):
    variables = [Variable(np.ones(s, np.float32)) for s in shapes]
    optimizer.prepare(variables)
    return optimizer, variables


@pytest.mark.parametrize("make, expected", [
    (lambda: optimizers.SGD(0.05), 0.05),
    (lambda: optimizers.SGD(optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=1, decay_rate=0.5)), 0.1),  # the schedule at the coming step
    (lambda: optimizers.SGD(0.05, momentum=0.9), None),
    (lambda: optimizers.SGD(0.05, clipnorm=1.0), None),
    (lambda: optimizers.SGD(0.05, weight_decay=0.01), None),
    (lambda: optimizers.SGD(0.05, use_ema=True), None),
    (lambda: optimizers.Adam(0.05), None),
])
def test_plain_learning_rate_is_given_only_for_a_plain_sgd_step(make, expected):
    optimizer, variables = _prepared(make())
    got = optimizer.plain_learning_rate(variables)
    assert got is None if expected is None else got == pytest.approx(expected)
    assert optimizer.plain_learning_rate(variables[:1]) is None  # not the packed variables


def test_plain_learning_rate_follows_changes_after_the_first_answer():
    optimizer, variables = _prepared(optimizers.SGD(0.05))
    assert optimizer.plain_learning_rate(variables) == pytest.approx(0.05)
    optimizer.learning_rate.assign(0.2)
    assert optimizer.plain_learning_rate(variables) == pytest.approx(0.2)
    optimizer.clipvalue = 0.5
    assert optimizer.plain_learning_rate(variables) is None


def test_an_applied_gradient_buffer_only_counts_the_step():
    optimizer, variables = _prepared(optimizers.SGD(0.05))
    flat, views = optimizer.gradient_buffer(variables)
    flat[...] = 7.0  # ignored: the step already moved the weights
    before = [v.numpy().copy() for v in variables]
    optimizer.apply_gradient_buffer(variables, applied=True)
    assert int(optimizer.iterations.numpy()) == 1
    for v, b in zip(variables, before):
        np.testing.assert_array_equal(v.numpy(), b)
    optimizer.apply_gradient_buffer(variables)  # the usual step reads the buffer
    for v, b in zip(variables, before):
        np.testing.assert_allclose(v.numpy(), b - 0.05 * 7.0, rtol=1e-6)
    assert int(optimizer.iterations.numpy()) == 2
