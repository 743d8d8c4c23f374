"""`LossScaleOptimizer`, `MultiOptimizer` / `OptimizerMap`, and `loss_scale_factor` in `fit`,
against real Keras 3.15.1: `reference_wrapper_optimizers.{npz,json}` and the weights files
Keras wrote (`tests/fixtures/generate_reference_wrapper_optimizers.py`)."""

import json
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

import numnet as keras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
sys.path.insert(0, str(FIXTURES))

from wrapper_optimizer_cases import (  # noqa: E402
    FIT_CASES, STEP_GRADS, build_model, optimizers_of)

REF = np.load(FIXTURES / "reference_wrapper_optimizers.npz")
META = json.loads((FIXTURES / "reference_wrapper_optimizers.json").read_text())


def _fit(case, jit_compile=True):
    keras.utils.set_random_seed(0)
    model = build_model(keras)
    model.set_weights([REF[f"init/w{i}"] for i in range(4)])
    optimizer = optimizers_of(case)(keras)
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    history = model.fit(REF["data/x"], REF["data/y"], batch_size=4, epochs=2, shuffle=False,
                        verbose=0)
    return model, optimizer, history


# ---------------------------------------------------------------- LossScaleOptimizer
def test_loss_scale_optimizer_skips_non_finite_steps_and_adapts_its_scale_as_keras():
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(0.5, momentum=0.9, name="sgd"), initial_scale=4.0,
        dynamic_growth_steps=2, name="lso")
    variable = keras.Variable(np.array([1.0, 2.0, 3.0], "float32"), name="w")
    for step, grad in enumerate(STEP_GRADS):
        optimizer.apply([np.array(grad, "float32")], [variable])
        np.testing.assert_array_equal(variable.numpy(), REF[f"apply/step{step}/w"])
        assert float(optimizer.dynamic_scale.numpy()) == float(REF[f"apply/step{step}/scale"])
        assert int(optimizer.step_counter.numpy()) == int(REF[f"apply/step{step}/counter"])
        assert int(optimizer.iterations.numpy()) == int(REF[f"apply/step{step}/iterations"])
    assert [v.path for v in optimizer.variables] == META["apply"]["paths"]
    assert keras.optimizers.serialize(optimizer) == META["apply"]["serialized"]
    assert float(optimizer.scale_loss(1.0)) == META["apply"]["scale_loss_of_1"]


def test_loss_scale_optimizer_refuses_what_belongs_to_the_inner_optimizer():
    inner = keras.optimizers.SGD(0.5, loss_scale_factor=100.0)
    optimizer = keras.optimizers.LossScaleOptimizer(inner)
    assert inner.loss_scale_factor is None  # the wrapper unscales, once
    with pytest.raises(ValueError, match="on the `inner_optimizer`"):
        keras.optimizers.LossScaleOptimizer(inner, clipnorm=1.0)
    with pytest.raises(ValueError, match="set `loss_scale_factor`"):
        keras.optimizers.LossScaleOptimizer(inner, dynamic=False)
    with pytest.raises(ValueError, match="arguments: `foo`"):
        keras.optimizers.LossScaleOptimizer(inner, foo=1)
    optimizer.learning_rate = 0.25  # the inner optimizer's
    assert float(inner.learning_rate.numpy()) == 0.25


# ------------------------------------------------------------------ fit, both paths
@pytest.mark.parametrize("jit_compile", [True, False])
@pytest.mark.parametrize("case", sorted(FIT_CASES))
def test_fit_with_each_optimizer_gives_keras_numbers(case, jit_compile):
    model, optimizer, history = _fit(case, jit_compile)
    # float32 steps in a different order than TensorFlow's: agreement to a few ulps
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, REF[f"fit/{case}/w{i}"], rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(history.history["loss"], REF[f"fit/{case}/loss"], rtol=2e-6)
    expected = META["fit"][case]
    assert [v.path for v in optimizer.variables] == expected["paths"]
    for j, v in enumerate(optimizer.variables):
        np.testing.assert_allclose(v.numpy(), REF[f"fit/{case}/opt{j}"], rtol=2e-6, atol=1e-7)
    inner = getattr(optimizer, "optimizers", None) or [
        getattr(optimizer, "inner_optimizer", optimizer)]
    assert {o.name: int(o.iterations.numpy()) for o in inner} == expected["inner_iterations"]
    assert int(optimizer.iterations.numpy()) == expected["iterations"]
    assert sorted(history.history) == expected["history_keys"]


def test_the_compiled_step_scales_the_loss_and_calls_the_wrapper_each_step():
    compiled, _, _ = _fit("lso_adam", jit_compile=True)
    eager, _, _ = _fit("lso_adam", jit_compile=False)
    assert compiled.compiled_reason is None
    (program,) = compiled.train_function.programs
    assert program.stats["kernels"] > 0
    for a, b in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", sorted(FIT_CASES))
def test_serialization_is_keras_and_round_trips(case):
    optimizer = optimizers_of(case)(keras)
    config = keras.optimizers.serialize(optimizer)
    assert config == META["fit"][case]["serialized"]
    again = keras.optimizers.deserialize(json.loads(json.dumps(config)))
    assert type(again) is type(optimizer)
    assert keras.optimizers.serialize(again) == config


@pytest.mark.parametrize("case", sorted(FIT_CASES))
def test_keras_weights_files_load_and_numnet_writes_the_same_groups(case, tmp_path):
    keras_file = FIXTURES / "keras_files" / f"wrapper_optimizers_{case}.weights.h5"
    model = build_model(keras)
    model.compile(optimizer=optimizers_of(case)(keras), loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.load_weights(keras_file)
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(w, REF[f"fit/{case}/w{i}"])
    for j, v in enumerate(model.optimizer.variables):
        np.testing.assert_array_equal(v.numpy(), REF[f"fit/{case}/opt{j}"])
    ours = tmp_path / "ours.weights.h5"
    model.save_weights(ours)

    def datasets(path):
        names = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: names.__setitem__(name, obj[()]) if isinstance(
                obj, h5py.Dataset) else None)
        return names

    theirs, written = datasets(keras_file), datasets(ours)
    assert sorted(written) == sorted(theirs)
    for name, value in theirs.items():
        np.testing.assert_array_equal(written[name], value)


def test_a_saved_model_resumes_training_where_it_stopped(tmp_path):
    """`.keras` keeps the wrapper, its inner optimizers and their slots: two epochs, save,
    load, two more equal four epochs in a row."""
    straight, _, _ = _fit("multi_adam_sgd")
    straight.fit(REF["data/x"], REF["data/y"], batch_size=4, epochs=2, shuffle=False, verbose=0)
    halfway, _, _ = _fit("multi_adam_sgd")
    halfway.save(tmp_path / "m.keras")
    resumed = keras.saving.load_model(tmp_path / "m.keras")
    assert type(resumed.optimizer).__name__ == "MultiOptimizer"
    resumed.fit(REF["data/x"], REF["data/y"], batch_size=4, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------- MultiOptimizer rules
def test_optimizer_map_exact_key_then_one_full_match_then_the_default():
    adam, sgd, default = (keras.optimizers.Adam(), keras.optimizers.SGD(),
                          keras.optimizers.RMSprop())
    mapping = keras.optimizers.OptimizerMap(default, {"enc/dense/kernel": adam})
    mapping["enc/.*"] = sgd
    assert mapping["enc/dense/kernel"] is adam
    assert mapping["enc/dense/bias"] is sgd
    assert mapping["xenc/dense/bias"] is default  # a pattern matches the whole path only
    mapping[".*bias"] = adam
    with pytest.raises(ValueError, match="Multiple optimizers assigned"):
        mapping["enc/dense/bias"]
    with pytest.raises(ValueError, match="already exists"):
        mapping["enc/.*"] = adam
    with pytest.raises(ValueError, match="cannot be LossScaleOptimizer"):
        mapping["other"] = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD())


def test_multi_optimizer_has_no_learning_rate_and_callbacks_set_each_inner_one():
    model, optimizer, _ = _fit("multi_adam_sgd")
    with pytest.raises(AttributeError, match="sub-optimizers"):
        optimizer.learning_rate
    history = model.fit(REF["data/x"], REF["data/y"], epochs=2, verbose=0, callbacks=[
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)])
    adam, sgd = optimizer.optimizers
    np.testing.assert_allclose(history.history["learning_rate_adam"], [0.005, 0.0025])
    np.testing.assert_allclose(history.history["learning_rate_sgd"], [0.025, 0.0125])
    assert "learning_rate" not in history.history
    assert float(adam.learning_rate.numpy()) == pytest.approx(0.0025)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0)
    plateau.set_model(model)
    plateau.on_train_begin()
    plateau.on_epoch_end(0, {"loss": 1.0})
    plateau.on_epoch_end(1, {"loss": 1.0})  # no improvement: each inner rate halves
    assert float(sgd.learning_rate.numpy()) == pytest.approx(0.00625)


def test_loss_scale_factor_of_a_multi_optimizer_overrides_the_inner_ones():
    inner = keras.optimizers.SGD(0.1, loss_scale_factor=3.0)
    multi = keras.optimizers.MultiOptimizer(keras.optimizers.OptimizerMap(inner),
                                            loss_scale_factor=5.0)
    assert inner.loss_scale_factor == 5.0
    assert float(multi.scale_loss(2.0)) == 10.0
    multi.loss_scale_factor = None
    assert inner.loss_scale_factor is None


def test_name_scopes_name_variables_and_refuse_slashes():
    with keras.name_scope("block"):
        first = keras.Variable(1.0, name="a")
        with keras.name_scope("block", caller=None):
            nested = keras.Variable(1.0, name="b")
    assert (first.path, nested.path) == ("block/a", "block/block/b")
    owner = object()
    with keras.name_scope("own", caller=owner), keras.name_scope("own", caller=owner):
        assert keras.Variable(1.0, name="c").path == "own/c"  # the same caller: one level
    with pytest.raises(ValueError, match="cannot contain character `/`"):
        keras.name_scope("a/b")
