"""The NumPy export: a short, readable module that needs only NumPy."""

import json
import re
import subprocess
import sys

import numpy as np

import numnet as keras
from numnet.export import load, trace

L = keras.layers


def _classifier():
    norm = L.Normalization(name="scaler")
    norm.adapt(np.random.default_rng(0).random((50, 2, 3)).astype("float32"))
    return keras.Sequential([L.Input(shape=(2, 3)), norm, L.Flatten(name="flat"),
                             L.Dense(8, activation="relu", name="hidden"),
                             L.Dense(3, activation="softmax", name="probabilities")],
                            name="clf")


def test_one_line_per_op_with_the_layer_named(tmp_path):
    model = _classifier()
    model.export(tmp_path / "m", format="numpy", verbose=False)
    source = (tmp_path / "m" / "model.py").read_text()
    body = source[source.index("def forward"):]
    graph = trace(model)
    assigned = re.findall(r"^    (h\d+) = ", body, flags=re.M)
    assert len(assigned) == len(graph.nodes) == 5
    comments = re.findall(r"^    # (.*)$", body, flags=re.M)
    assert comments == ["scaler (Normalization)", "flat (Flatten)", "hidden (Dense)",
                        "probabilities (Dense)"]
    # Weights by their variable paths, as Keras names them (built in the model's scope;
    # the scaler was built by `adapt`, before joining it).
    assert "h2 = np.maximum(h1 @ weights['clf/hidden/kernel'] + weights['clf/hidden/bias'], " \
        "0)" in body
    name = model.inputs[0].name
    assert f"h0 = ({name} + weights['scaler/shift']) * weights['scaler/scale']" in body
    assert "h1 = h0.reshape((batch, -1))" in body and "h4 = _softmax(h3, axis=-1)" in body
    assert len(source.splitlines()) < 60


def test_imports_only_numpy(tmp_path):
    model = keras.Sequential([L.Input(shape=(3,)), L.Dense(2, activation="gelu")])
    model.export(tmp_path / "m", format="numpy", verbose=False)
    source = (tmp_path / "m" / "model.py").read_text()
    imports = sorted(set(re.findall(r"^(?:import|from) (\w+)", source, flags=re.M)))
    assert imports == ["math", "numpy", "os"]  # math for the exact GELU's erf


def test_runs_in_a_python_without_numnet(tmp_path):
    model = _classifier()
    x = np.random.default_rng(1).random((4, 2, 3)).astype("float32")
    model.export(tmp_path / "m", format="numpy", verbose=False)
    np.save(tmp_path / "x.npy", x)
    script = (
        "import sys, runpy, numpy as np\n"
        "sys.modules['numnet'] = None  # importing numnet would fail\n"
        f"module = runpy.run_path({str(tmp_path / 'm' / 'model.py')!r})\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        "out = module['forward']({'%s': x}, module['load_weights']())\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, out['output_0'])\n" % model.inputs[0].name)
    subprocess.run([sys.executable, "-I", "-c", script], check=True, timeout=60)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_the_same_model_writes_the_same_files(tmp_path):
    model = _classifier()
    model.export(tmp_path / "a", format="numpy", verbose=False)
    model.export(tmp_path / "b", format="numpy", verbose=False)
    for name in ("model.py", "numnet_export.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    manifest = json.loads((tmp_path / "a" / "numnet_export.json").read_text())
    assert manifest["format"] == "numpy" and manifest["module"] == "model.py"
    assert manifest["outputs"] == [{"name": "output_0", "dtype": "float32",
                                    "shape": [None, 3]}]


def test_exact_to_float32_rounding_on_the_textbook_classifier(tmp_path):
    model = keras.Sequential([L.Input(shape=[28, 28]), L.Flatten(),
                              L.Dense(300, activation="relu"), L.Dense(100, activation="relu"),
                              L.Dense(10, activation="softmax")])
    x = np.random.default_rng(2).random((32, 28, 28)).astype("float32")
    model.export(tmp_path / "m", format="numpy", verbose=False)
    got = load(tmp_path / "m").predict(x)["output_0"]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_preprocessing_layers_run_in_a_python_without_numnet(tmp_path):
    """Lookups, buckets and TensorFlow's string hashes (written out) need only NumPy too."""
    city = keras.Input(shape=(2,), dtype="string", name="city")
    code = keras.Input(shape=(1,), dtype="int64", name="code")
    size = keras.Input(shape=(1,), name="size")
    lookup = L.StringLookup(num_oov_indices=2, output_mode="multi_hot")
    lookup.adapt(np.array([["paris", "lyon"], ["nice", "paris"]]))
    features = [lookup(city), L.Hashing(5, output_mode="one_hot")(code),
                L.Hashing(7, salt=3)(city), L.Discretization([0.5, 2.0])(size)]
    model = keras.Model([city, code, size], [L.Concatenate()(features[:2]), features[2],
                                             features[3]])
    x = [np.array([["paris", "brest"], ["nice", "lille"], ["lyon", "lyon"]]),
         np.int64([[7], [123456789], [-4]]), np.float32([[0.1], [3.0], [0.5]])]
    model.export(tmp_path / "m", format="numpy", verbose=False)
    source = (tmp_path / "m" / "model.py").read_text()
    imports = sorted(set(re.findall(r"^(?:import|from) (\w+)", source, flags=re.M)))
    assert imports == ["numpy", "os", "struct"]  # struct: the hashes read 64-bit words
    np.savez(tmp_path / "x.npz", city=x[0], code=x[1], size=x[2])
    script = (
        "import sys, runpy, numpy as np\n"
        "sys.modules['numnet'] = None  # importing numnet would fail\n"
        f"module = runpy.run_path({str(tmp_path / 'm' / 'model.py')!r})\n"
        f"x = dict(np.load({str(tmp_path / 'x.npz')!r}))\n"
        "out = module['forward'](x, module['load_weights']())\n"
        f"np.savez({str(tmp_path / 'out.npz')!r}, **out)\n")
    subprocess.run([sys.executable, "-I", "-c", script], check=True, timeout=60)
    out = np.load(tmp_path / "out.npz")
    for got, want in zip((out[f"output_{i}"] for i in range(3)), model(x)):
        np.testing.assert_array_equal(got, want.numpy())
