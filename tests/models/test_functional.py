"""Functional API: graph building, shapes, names, config, summary, nesting, errors, gradients."""

import io
import json
from contextlib import redirect_stdout

import numpy as np
import pytest

import numnet as keras
from numnet.autodiff import GradientTape

RNG = np.random.default_rng(0)


def two_in_two_out(dict_io=False):
    input_wide = keras.Input(shape=(5,), name="input_wide")
    input_deep = keras.Input(shape=(6,), name="input_deep")
    hidden1 = keras.layers.Dense(8, activation="relu", name="hidden1")(input_deep)
    hidden2 = keras.layers.Dense(8, activation="relu", name="hidden2")(hidden1)
    concat = keras.layers.concatenate([input_wide, hidden2], name="concat")
    output = keras.layers.Dense(1, name="output")(concat)
    aux = keras.layers.Dense(1, name="aux_output")(hidden2)
    if dict_io:
        return keras.Model(inputs={"input_wide": input_wide, "input_deep": input_deep},
                           outputs={"output": output, "aux_output": aux})
    return keras.Model(inputs=[input_wide, input_deep], outputs=[output, aux])


def data(n=64):
    x = RNG.normal(size=(n, 8)).astype("float32")
    y = (x[:, :1] - 0.5 * x[:, 3:4]).astype("float32")
    return x[:, :5], x[:, 2:], y


def test_symbolic_call_computes_nothing_and_infers_shapes():
    inputs = keras.Input(shape=(4,), name="features")
    assert isinstance(inputs, keras.layers.KerasTensor)
    assert inputs.shape == (None, 4)
    hidden = keras.layers.Dense(3)(inputs)
    assert isinstance(hidden, keras.layers.KerasTensor) and hidden.shape == (None, 3)
    merged = keras.layers.Concatenate()([inputs, hidden])
    assert merged.shape == (None, 7)


def test_model_attributes_and_layer_order():
    model = two_in_two_out()
    assert [t.name for t in model.inputs] == ["input_wide", "input_deep"]
    assert model.input_names == ["input_wide", "input_deep"]
    assert model.output_names == ["output", "aux_output"]
    assert len(model.outputs) == 2
    assert [layer.name for layer in model.layers] == [
        "input_deep", "hidden1", "input_wide", "hidden2", "concat", "output", "aux_output"]
    assert model.get_layer("hidden2") is model.layers[3]
    assert model.get_layer(index=1).name == "hidden1"
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")


def test_dict_inputs_and_outputs_flatten_by_sorted_key():
    model = two_in_two_out(dict_io=True)
    assert [t.name for t in model.inputs] == ["input_deep", "input_wide"]
    assert model.output_names == ["aux_output", "output"]
    x_wide, x_deep, y = data()
    pred = model.predict({"input_wide": x_wide, "input_deep": x_deep}, verbose=0)
    assert isinstance(pred, dict) and set(pred) == {"output", "aux_output"}
    assert pred["output"].shape == (64, 1)


def test_fit_accepts_tuple_list_and_dict_inputs_identically():
    x_wide, x_deep, y = data()
    model = two_in_two_out()
    a = model.predict((x_wide, x_deep), verbose=0)
    b = model.predict([x_wide, x_deep], verbose=0)
    c = model.predict({"input_wide": x_wide, "input_deep": x_deep}, verbose=0)
    assert isinstance(a, list) and len(a) == 2
    for got in (b, c):
        np.testing.assert_allclose(got[0], a[0])
        np.testing.assert_allclose(got[1], a[1])
    model.compile(loss="mse", optimizer="sgd")
    history = model.fit({"input_wide": x_wide, "input_deep": x_deep},
                        {"output": y, "aux_output": y}, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "output_loss", "aux_output_loss"}


def test_multi_output_evaluate_names_and_order():
    x_wide, x_deep, y = data()
    model = two_in_two_out()
    model.compile(loss=("mse", "mse"), loss_weights=(0.9, 0.1), optimizer="sgd",
                  metrics=["RootMeanSquaredError", "RootMeanSquaredError"])
    logs = model.evaluate((x_wide, x_deep), (y, y), return_dict=True, verbose=0)
    assert set(logs) == {"loss", "output_loss", "aux_output_loss",
                         "output_RootMeanSquaredError", "aux_output_RootMeanSquaredError"}
    assert logs["loss"] == pytest.approx(0.9 * logs["output_loss"] + 0.1 * logs["aux_output_loss"],
                                         rel=1e-5)
    values = model.evaluate((x_wide, x_deep), (y, y), verbose=0)
    assert values[:3] == pytest.approx([logs["loss"], logs["output_loss"], logs["aux_output_loss"]])


def test_loss_and_metrics_as_dicts():
    x_wide, x_deep, y = data()
    model = two_in_two_out()
    model.compile(loss={"output": "mse", "aux_output": "mae"},
                  loss_weights={"output": 1.0, "aux_output": 0.5},
                  metrics={"output": ["mae"], "aux_output": "mse"}, optimizer="sgd")
    logs = model.evaluate([x_wide, x_deep], {"output": y, "aux_output": y}, return_dict=True,
                          verbose=0)
    assert "output_mae" in logs and "aux_output_mse" in logs
    assert logs["loss"] == pytest.approx(logs["output_loss"] + 0.5 * logs["aux_output_loss"],
                                         rel=1e-5)


def test_single_output_in_list_predicts_one_array():
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, [keras.layers.Dense(2)(inputs)])
    assert isinstance(model.predict(np.zeros((4, 3)), verbose=0), np.ndarray)


def test_shared_layer_and_nested_models():
    shared = keras.layers.Dense(4, name="shared")
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(3,), name="b")
    merged = keras.layers.Add()([shared(a), shared(b)])
    model = keras.Model([a, b], merged)
    assert [layer.name for layer in model.layers].count("shared") == 1
    assert len(model.weights) == 2
    x = RNG.normal(size=(5, 3)).astype("float32")
    kernel, bias = shared.get_weights()
    np.testing.assert_allclose(model.predict([x, 2 * x], verbose=0),
                               x @ kernel + bias + 2 * x @ kernel + bias, rtol=1e-5, atol=1e-6)
    # A Functional model and a Sequential model used as layers, and the reverse.
    seq = keras.Sequential([keras.layers.Dense(2)])
    inp = keras.Input(shape=(3,))
    outer = keras.Model(inp, seq(model([inp, inp])))
    assert outer.predict(x, verbose=0).shape == (5, 2)
    stacked = keras.Sequential([keras.Input(shape=(3,)), outer, keras.layers.Dense(1)])
    assert stacked.predict(x, verbose=0).shape == (5, 1)
    assert len(stacked.weights) == 2 + 2 + 2


def test_summary_connected_to_column():
    model = two_in_two_out()
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        model.summary()
    text = buffer.getvalue()
    assert "Connected to" in text
    assert "hidden1[0][0]" in text and "input_wide[0][0]" in text
    assert "│ -" in text  # input layers have no connections
    chain_in = keras.Input(shape=(3,))
    chain = keras.Model(chain_in, keras.layers.Dense(2)(chain_in))
    lines = []
    chain.summary(print_fn=lines.append)
    assert "Connected to" not in "\n".join(lines)


def test_config_matches_keras_format_and_round_trips():
    model = two_in_two_out()
    config = json.loads(json.dumps(model.get_config()))
    assert config["input_layers"] == [["input_wide", 0, 0], ["input_deep", 0, 0]]
    assert config["output_layers"] == [["output", 0, 0], ["aux_output", 0, 0]]
    concat = next(entry for entry in config["layers"] if entry["name"] == "concat")
    node = concat["inbound_nodes"][0]
    assert node["kwargs"] == {}
    first, second = node["args"][0]
    assert first == {"class_name": "__keras_tensor__",
                     "config": {"shape": [None, 5], "dtype": "float32",
                                "keras_history": ["input_wide", 0, 0]}}
    assert second["config"]["keras_history"] == ["hidden2", 0, 0]
    assert config["layers"][0]["inbound_nodes"] == []
    clone = keras.Model.from_config(config)
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    clone.set_weights(model.get_weights())
    x_wide, x_deep, _ = data(8)
    for got, expected in zip(clone.predict([x_wide, x_deep], verbose=0),
                             model.predict([x_wide, x_deep], verbose=0)):
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    single_in = keras.Input(shape=(2,), name="solo")
    single = keras.Model(single_in, keras.layers.Dense(1)(single_in))
    assert single.get_config()["input_layers"] == ["solo", 0, 0]
    dict_config = two_in_two_out(dict_io=True).get_config()
    assert dict_config["input_layers"] == {"input_wide": ["input_wide", 0, 0],
                                           "input_deep": ["input_deep", 0, 0]}


def test_config_of_shared_layer_lists_both_nodes():
    shared = keras.layers.Dense(2, name="d")
    a = keras.Input(shape=(3,), name="a")
    model = keras.Model(a, keras.layers.Concatenate(name="c")([shared(a), shared(a)]))
    config = model.get_config()
    d = next(entry for entry in config["layers"] if entry["name"] == "d")
    assert len(d["inbound_nodes"]) == 2
    c = next(entry for entry in config["layers"] if entry["name"] == "c")
    assert [t["config"]["keras_history"] for t in c["inbound_nodes"][0]["args"][0]] == [
        ["d", 0, 0], ["d", 1, 0]]
    rebuilt = keras.Model.from_config(config)
    assert len(rebuilt.weights) == 2


# ------------------------------------------------------------------ errors
def test_shape_mismatch_at_definition_names_layers_and_shapes():
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(4, 5), name="b")
    with pytest.raises(ValueError, match=r"Concatenate.*\(None, 3\).*\(None, 4, 5\)"):
        keras.layers.Concatenate(name="join")([a, b])
    dense = keras.layers.Dense(2, name="head")
    dense(keras.Input(shape=(3,)))
    with pytest.raises(ValueError, match=r"head.*expected last axis of size 3.*\(None, 7\)"):
        dense(keras.Input(shape=(7,)))
    with pytest.raises(ValueError, match="incompatible shapes"):
        keras.layers.Add()([keras.Input(shape=(3,)), keras.Input(shape=(4,))])


def test_graph_disconnected_and_non_tensor_inputs():
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(3,), name="b")
    out = keras.layers.Add()([a, b])
    # Keras 3.15: "Output with path `` is not connected to `inputs`".
    with pytest.raises(ValueError, match="Output with path `` is not connected to `inputs`.*'b'"):
        keras.Model(a, out)
    with pytest.raises(ValueError, match="must be KerasTensors"):
        keras.Model(np.zeros((2, 3)), out)


def test_bad_inputs_at_fit_time_are_named():
    x_wide, x_deep, y = data()
    model = two_in_two_out()
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match='Missing data for input "input_deep"'):
        model.fit({"input_wide": x_wide}, (y, y), verbose=0)
    # As in Keras, a list-structured model reads a dict by input name: extras are ignored.
    model.fit({"input_wide": x_wide, "input_deep": x_deep, "extra": x_deep}, (y, y), verbose=0)
    with pytest.raises(ValueError, match=r"name 'input_deep'.*expected shape=\(None, 6\), "
                                         r"found shape=\(64, 5\)"):
        model.fit((x_wide, x_wide), (y, y), verbose=0)
    # Keras' input-spec messages (its inputs have names, so they are "named input(s)").
    with pytest.raises(ValueError, match=r"expects 2 named input\(s\).*received 3 input"):
        model.predict([x_wide, x_deep, x_deep], verbose=0)
    with pytest.raises(ValueError, match=r"expects 2 named input\(s\) with keys "
                                         r"\['input_wide', 'input_deep'\].*received 1 input"):
        model.predict(x_wide, verbose=0)
    with pytest.raises(ValueError, match="2 output"):
        model.fit((x_wide, x_deep), (y, y, y), verbose=0)


# ---------------------------------------------------------- gradient checks
def _loss_and_grads(model, x, y):
    with GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x, y, y_pred)
    return float(loss.data), tape.gradient(loss, model.trainable_weights)


def _check_finite_differences(model, x, y, eps=1e-6):
    _, grads = _loss_and_grads(model, x, y)
    for variable, grad in zip(model.trainable_weights, grads):
        numeric = np.zeros_like(variable.data)
        for index in np.ndindex(variable.data.shape):
            old = variable.data[index]
            variable.data[index] = old + eps
            plus = _loss_and_grads(model, x, y)[0]
            variable.data[index] = old - eps
            minus = _loss_and_grads(model, x, y)[0]
            variable.data[index] = old
            numeric[index] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(np.asarray(grad), numeric, rtol=1e-5, atol=1e-8,
                                   err_msg=variable.path)


def test_gradients_through_shared_layers_merges_and_weighted_outputs():
    f64 = dict(dtype="float64")
    a = keras.Input(shape=(3,), name="a", **f64)
    b = keras.Input(shape=(3,), name="b", **f64)
    shared = keras.layers.Dense(4, activation="tanh", name="shared", **f64)
    sa, sb = shared(a), shared(b)
    merged = [keras.layers.Add(**f64)([sa, sb]), keras.layers.Subtract(**f64)([sa, sb]),
              keras.layers.Multiply(**f64)([sa, sb]), keras.layers.Average(**f64)([sa, sb]),
              keras.layers.Maximum(**f64)([sa, sb]), keras.layers.Minimum(**f64)([sa, sb])]
    concat = keras.layers.Concatenate(**f64)(merged + [a])
    out1 = keras.layers.Dense(2, name="out1", **f64)(concat)
    out2 = keras.layers.Dense(1, activation="sigmoid", name="out2", **f64)(sb)
    model = keras.Model([a, b], [out1, out2])
    # float64 losses too: a loss converts its inputs to its own dtype (floatx by default), as
    # in Keras
    model.compile(loss=[keras.losses.MeanSquaredError(**f64),
                        keras.losses.BinaryCrossentropy(**f64)],
                  loss_weights=[0.7, 0.3], optimizer="sgd")
    x = [RNG.normal(size=(6, 3)), RNG.normal(size=(6, 3))]
    y = [RNG.normal(size=(6, 2)), (RNG.random(size=(6, 1)) > 0.5).astype("float64")]
    _check_finite_differences(model, x, y)


def test_nodes_in_order_lists_each_layer_call_after_the_calls_it_reads():
    import numnet as keras
    x = keras.Input(shape=(3,))
    shared = keras.layers.Dense(3, name="shared")
    a = shared(x)
    b = shared(keras.layers.Dense(3, name="pre")(x))
    model = keras.Model(x, keras.layers.Add(name="sum")([a, b]))
    nodes = model.nodes_in_order
    names = [node.layer.name for node in nodes]
    assert sorted(names[1:]) == ["pre", "shared", "shared", "sum"]  # the shared layer twice
    position = {id(node): i for i, node in enumerate(nodes)}
    for node in nodes:
        for parent in node.parent_nodes:
            assert position[id(parent)] < position[id(node)]
    nodes.clear()  # a copy: the model's own list is untouched
    assert len(model.nodes_in_order) == 5
