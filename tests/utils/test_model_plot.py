"""Tests for `numnet.utils.plot_model` / `model_to_dot` and their renderers."""

import xml.etree.ElementTree as ET

import pytest

import numnet as keras
from numnet.utils import model_plot


def png_size(path):
    """(width, height) read from a PNG's IHDR chunk; fails if the file is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def svg_root(path):
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    return root


def sequential():
    return keras.Sequential([
        keras.layers.Input(shape=[28, 28]),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(30, activation="relu", name="hidden"),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ], name="mlp")


def wide_and_deep():
    input_ = keras.layers.Input(shape=[8], name="input")
    hidden1 = keras.layers.Dense(30, activation="relu", name="hidden1")(input_)
    hidden2 = keras.layers.Dense(30, activation="relu", name="hidden2")(hidden1)
    concat = keras.layers.Concatenate(name="concat")([input_, hidden2])
    output = keras.layers.Dense(1, name="output")(concat)
    return keras.Model(inputs=[input_], outputs=[output], name="wide_deep")


def nested():
    inner = keras.Sequential([keras.layers.Input(shape=[4]), keras.layers.Dense(3, name="in1"),
                              keras.layers.Dense(2, name="in2")], name="inner")
    return keras.Sequential([keras.layers.Input(shape=[4]), inner,
                             keras.layers.Dense(1, name="head")], name="outer")


def titles(graph):
    return [node["lines"][0] for node in graph.nodes]


def edges_by_title(graph):
    names = {node["id"]: node["lines"][0] for node in graph.nodes}
    return {(names[s], names[t]) for s, t in graph.edges}


def test_sequential_graph_is_a_chain_with_requested_labels():
    graph = model_plot._describe(sequential(), show_shapes=True, show_dtype=True,
                                 show_layer_names=True, show_layer_activations=True,
                                 show_trainable=True)
    assert titles(graph) == ["flatten (Flatten)", "hidden (Dense)", "output (Dense)"]
    assert edges_by_title(graph) == {("flatten (Flatten)", "hidden (Dense)"),
                                     ("hidden (Dense)", "output (Dense)")}
    hidden = graph.nodes[1]["lines"]
    assert "Activation: relu" in hidden
    assert "Input shape: (None, 784)" in hidden
    assert "Output shape: (None, 30)" in hidden
    assert "Output dtype: float32" in hidden
    assert "Trainable: Y" in hidden


def test_default_labels_are_class_names_only():
    graph = model_plot._describe(sequential())
    assert [node["lines"] for node in graph.nodes] == [["Flatten"], ["Dense"], ["Dense"]]


def test_functional_graph_shows_branches_and_merge():
    graph = model_plot._describe(wide_and_deep(), show_layer_names=True, show_shapes=True)
    assert set(titles(graph)) == {"input (InputLayer)", "hidden1 (Dense)", "hidden2 (Dense)",
                                  "concat (Concatenate)", "output (Dense)"}
    assert edges_by_title(graph) == {
        ("input (InputLayer)", "hidden1 (Dense)"), ("hidden1 (Dense)", "hidden2 (Dense)"),
        ("input (InputLayer)", "concat (Concatenate)"),
        ("hidden2 (Dense)", "concat (Concatenate)"), ("concat (Concatenate)", "output (Dense)")}
    concat = next(n for n in graph.nodes if n["lines"][0].startswith("concat"))
    assert "Input shape: [(None, 8), (None, 30)]" in concat["lines"]
    assert "Output shape: (None, 38)" in concat["lines"]


def test_nested_model_collapsed_or_expanded():
    collapsed = model_plot._describe(nested(), show_layer_names=True)
    assert titles(collapsed) == ["inner (Sequential)", "head (Dense)"]
    assert not collapsed.clusters
    expanded = model_plot._describe(nested(), show_layer_names=True, expand_nested=True)
    assert titles(expanded) == ["in1 (Dense)", "in2 (Dense)", "head (Dense)"]
    assert edges_by_title(expanded) == {("in1 (Dense)", "in2 (Dense)"),
                                        ("in2 (Dense)", "head (Dense)")}
    assert [c["label"] for c in expanded.clusters.values()] == ["inner (Sequential)"]
    assert expanded.nodes[0]["cluster"] == next(iter(expanded.clusters))


def test_layout_follows_rankdir():
    graph = model_plot._describe(sequential(), show_shapes=True)
    layout = model_plot._layout(graph)
    width, height, boxes = layout.width, layout.height, layout.boxes
    ys = [boxes[n["id"]][1] for n in graph.nodes]
    assert ys == sorted(ys) and height > width
    graph.rankdir = "LR"
    layout = model_plot._layout(graph)
    width, height, boxes = layout.width, layout.height, layout.boxes
    xs = [boxes[n["id"]][0] for n in graph.nodes]
    assert xs == sorted(xs) and width > height


def test_functional_layout_puts_branches_side_by_side():
    graph = model_plot._describe(wide_and_deep())
    layout = model_plot._layout(graph)
    boxes = layout.boxes
    # Ranks: input, hidden1, hidden2, concat, output: the skip edge spans three ranks.
    tops = [boxes[n["id"]][1] for n in graph.nodes]
    assert tops == sorted(tops) and len(set(tops)) == 5
    # The skip arrow (input -> concat) runs beside hidden1 and hidden2, not through them.
    skip = layout.routes[(graph.nodes[0]["id"], graph.nodes[3]["id"])]
    assert len(skip) == 6
    for node in graph.nodes[1:3]:
        x, _, w, _ = boxes[node["id"]]
        assert all(not (x <= px <= x + w) for px, _ in skip[1:-1])


def test_own_svg_writer(tmp_path):
    path = tmp_path / "model.svg"
    model_plot.plot_model(wide_and_deep(), to_file=path, show_layer_names=True,
                          show_shapes=True, renderer="svg", dpi=144)
    root = svg_root(path)
    width, height = float(root.get("width")), float(root.get("height"))
    view_width, view_height = (float(v) for v in root.get("viewBox").split()[2:])
    assert width == pytest.approx(view_width * 2, abs=1)
    assert height == pytest.approx(view_height * 2, abs=1)
    text = path.read_text()
    for name in ("hidden1 (Dense)", "concat (Concatenate)", "Output shape: (None, 38)"):
        assert name in text
    assert text.count("<polyline ") == 5


def test_expanded_nested_svg_has_a_frame(tmp_path):
    path = tmp_path / "nested.svg"
    model_plot.plot_model(nested(), to_file=path, expand_nested=True, show_layer_names=True,
                          renderer="svg")
    text = path.read_text()
    svg_root(path)
    assert 'stroke-dasharray' in text and "inner (Sequential)" in text


def test_matplotlib_png_has_the_expected_size(tmp_path):
    model = wide_and_deep()
    graph = model_plot._describe(model, show_shapes=True, show_layer_names=True)
    layout = model_plot._layout(graph)
    width, height = layout.width, layout.height
    sizes = {}
    for dpi in (50, 100):
        path = tmp_path / f"model_{dpi}.png"
        model_plot.plot_model(model, to_file=path, show_shapes=True, show_layer_names=True,
                              dpi=dpi, renderer="matplotlib")
        sizes[dpi] = png_size(path)
        assert sizes[dpi] == (pytest.approx(width / 72 * dpi, abs=1),
                              pytest.approx(height / 72 * dpi, abs=1))
    assert sizes[100][0] == pytest.approx(2 * sizes[50][0], abs=2)


def test_matplotlib_png_for_nested_and_lr(tmp_path):
    path = tmp_path / "nested.png"
    model_plot.plot_model(nested(), to_file=path, expand_nested=True, rankdir="LR",
                          show_trainable=True, dpi=60, renderer="matplotlib")
    width, height = png_size(path)
    assert width > height > 0


@pytest.mark.skipif(not model_plot._have_graphviz(), reason="pydot or Graphviz `dot` missing")
def test_graphviz_png_and_svg(tmp_path):
    png = tmp_path / "model.png"
    model_plot.plot_model(wide_and_deep(), to_file=png, show_shapes=True, dpi=72,
                          expand_nested=True)
    width, height = png_size(png)
    assert width > 50 and height > 100
    svg = tmp_path / "model.svg"
    model_plot.plot_model(nested(), to_file=svg, expand_nested=True, show_layer_names=True)
    assert "in1 (Dense)" in svg.read_text()
    svg_root(svg)


def test_model_to_dot_returns_pydot_graph():
    dot = keras.utils.model_to_dot(wide_and_deep(), show_shapes=True)
    assert len(dot.get_edges()) == 5
    assert dot.get_rankdir() == "TB"
    assert len(dot.get_nodes()) >= 5


def test_model_to_dot_without_pydot_returns_source(monkeypatch):
    monkeypatch.setattr(model_plot, "_have_pydot", lambda: False)
    source = model_plot.model_to_dot(sequential(), rankdir="LR")
    assert source.startswith('digraph "mlp"') and "rankdir=LR" in source
    assert source.count("->") == 2


def test_dot_file(tmp_path):
    path = tmp_path / "model.dot"
    keras.utils.plot_model(nested(), to_file=path, expand_nested=True)
    text = path.read_text()
    assert "subgraph cluster_0" in text and text.count("->") == 2


def test_without_any_renderer(monkeypatch, tmp_path):
    monkeypatch.setattr(model_plot, "_have_graphviz", lambda: False)
    monkeypatch.setattr(model_plot, "_have_matplotlib", lambda: False)
    svg = tmp_path / "model.svg"
    model_plot.plot_model(sequential(), to_file=svg)  # no dependency needed
    svg_root(svg)
    with pytest.raises(ImportError, match=r"pip install numnet\[plot\]"):
        model_plot.plot_model(sequential(), to_file=tmp_path / "model.png")


def test_bad_arguments_are_named(tmp_path):
    model = sequential()
    with pytest.raises(ValueError, match="rankdir"):
        keras.utils.plot_model(model, to_file=tmp_path / "m.svg", rankdir="BT")
    with pytest.raises(ValueError, match="to_file"):
        keras.utils.plot_model(model, to_file=tmp_path / "m.gif")
    with pytest.raises(ValueError, match="dpi"):
        keras.utils.plot_model(model, to_file=tmp_path / "m.svg", dpi=0)
    with pytest.raises(ValueError, match="model"):
        keras.utils.plot_model("not a model", to_file=tmp_path / "m.svg")
    with pytest.raises(ValueError, match="renderer"):
        keras.utils.plot_model(model, to_file=tmp_path / "m.svg", renderer="tikz")
