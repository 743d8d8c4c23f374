"""`plot_model` and `model_to_dot`: pictures of a model's layer graph.

The graph (one box per layer, one arrow per connection) is described here,
independently of any drawing library. It is then drawn by Graphviz through
`pydot` when both are installed (as Keras does), and otherwise by numnet's own
layered layout: an SVG written as plain text (no dependency at all) or a
PNG/PDF/JPEG drawn with matplotlib. So `plot_model` works without Graphviz,
and writes `.svg` and `.dot` files even with nothing optional installed.
"""

import os
import shutil

_INSTALL_HINT = "pip install numnet[plot]  (or: pip install matplotlib pydot, plus Graphviz)"
_RASTER_FORMATS = ("png", "jpg", "jpeg", "pdf")
_RENDERERS = ("auto", "graphviz", "matplotlib", "svg")

# Layout units are points (1/72 inch), so a figure of W x H units is W/72 x H/72 inches.
_FONT_SIZE = 10.0
_CHAR_WIDTH = 6.1  # a monospace glyph at 10 pt is about 0.6 em wide
_LINE_HEIGHT = 14.0
_PAD_X, _PAD_Y = 10.0, 7.0
_GAP_IN_RANK, _GAP_BETWEEN_RANKS = 24.0, 36.0
_MARGIN = 16.0
_CLUSTER_PAD, _CLUSTER_LABEL = 10.0, 16.0


# ----------------------------------------------------------------- graph description
class _Graph:
    """Boxes (`nodes`), arrows (`edges`) and nested-model frames (`clusters`)."""

    def __init__(self, name, rankdir):
        self.name = name
        self.rankdir = rankdir
        self.nodes = []  # dicts: id, lines (first is the title), cluster, trainable
        self.edges = []  # (source id, target id)
        self.clusters = {}  # id -> {"label", "parent"}

    def add_node(self, lines, cluster, trainable):
        node_id = f"n{len(self.nodes)}"
        self.nodes.append({"id": node_id, "lines": lines, "cluster": cluster,
                           "trainable": trainable})
        return node_id

    def add_edge(self, source, target):
        if (source, target) not in self.edges:
            self.edges.append((source, target))


def _shape_text(shape):
    if shape is None:
        return "?"
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {_shape_text(v)}" for k, v in shape.items()) + "}"
    dims = ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _activation_name(layer):
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = getattr(activation, "__name__", None) or getattr(activation, "name", None)
    return name or type(activation).__name__


def _is_model(layer):
    from numnet.models.model import Model
    return isinstance(layer, Model)


def _is_sequential(model):
    from numnet.models.sequential import Sequential
    return isinstance(model, Sequential)


def _graph_outputs(model):
    """The model's output KerasTensors if it is a graph (Functional) model, else None."""
    if _is_sequential(model):
        return None
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs:
        return None
    from numnet.tree import flatten
    outputs = flatten(outputs)
    if all(getattr(t, "_keras_history", None) is not None for t in outputs):
        return outputs
    return None


class _Builder:
    def __init__(self, graph, show_shapes, show_dtype, show_layer_names,
                 show_layer_activations, show_trainable, expand_nested):
        self.graph = graph
        self.show_shapes = show_shapes
        self.show_dtype = show_dtype
        self.show_layer_names = show_layer_names
        self.show_layer_activations = show_layer_activations
        self.show_trainable = show_trainable
        self.expand_nested = expand_nested

    def layer_box(self, layer, input_shape, output_shape, cluster):
        class_name = type(layer).__name__
        lines = [f"{layer.name} ({class_name})" if self.show_layer_names else class_name]
        if self.show_layer_activations:
            activation = _activation_name(layer)
            if activation is not None:
                lines.append(f"Activation: {activation}")
        if self.show_dtype:
            lines.append(f"Output dtype: {getattr(layer, 'dtype', None) or '?'}")
        if self.show_shapes:
            if class_name != "InputLayer":
                lines.append(f"Input shape: {_shape_text(input_shape)}")
            lines.append(f"Output shape: {_shape_text(output_shape)}")
        if self.show_trainable:
            lines.append(f"Trainable: {'Y' if layer.trainable else 'N'}")
        trainable = bool(layer.trainable) if self.show_trainable else None
        return self.graph.add_node(lines, cluster, trainable)

    def add_model(self, model, cluster):
        """Adds `model`'s layers; returns (entry ids per input, exit ids per output)."""
        outputs = _graph_outputs(model)
        if _is_sequential(model):
            return self._add_sequential(model, cluster)
        if outputs is not None:
            return self._add_functional(model, outputs, cluster)
        return self._add_unconnected(model, cluster)

    def _nested_cluster(self, layer, cluster):
        cluster_id = f"cluster_{len(self.graph.clusters)}"
        self.graph.clusters[cluster_id] = {"label": f"{layer.name} ({type(layer).__name__})",
                                           "parent": cluster}
        return cluster_id

    def _add_sequential(self, model, cluster):
        try:
            shape = tuple(model.input_shape)
        except (AttributeError, ValueError, TypeError):
            shape = None
        entries, previous = None, []
        for layer in model.layers:
            output_shape = layer._output_shape
            if output_shape is None and shape is not None:
                try:
                    output_shape = tuple(layer.compute_output_shape(shape))
                except Exception:  # an unbuilt layer: the shape is just unknown
                    output_shape = None
            if self.expand_nested and _is_model(layer):
                inner_entries, inner_exits = self.add_model(
                    layer, self._nested_cluster(layer, cluster))
                starts = [i for group in inner_entries for i in group]
                ends = [i for group in inner_exits for i in group]
            else:
                node_id = self.layer_box(layer, shape, output_shape, cluster)
                starts, ends = [node_id], [node_id]
            for source in previous:
                for target in starts:
                    self.graph.add_edge(source, target)
            if entries is None:
                entries = [starts]
            previous = ends
            shape = output_shape
        return entries or [[]], [previous]

    def _add_functional(self, model, outputs, cluster):
        # Post-order walk from the outputs back along `_keras_history`: every node
        # (one call of one layer) comes after the nodes that feed it.
        ordered, seen = [], set()
        stack = [(t._keras_history[0]._inbound_nodes[t._keras_history[1]], False)
                 for t in reversed(outputs)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                if id(node) not in seen:
                    seen.add(id(node))
                    ordered.append(node)
                continue
            if id(node) in seen:
                continue
            stack.append((node, True))
            for parent in reversed(node.parent_nodes):
                if id(parent) not in seen:
                    stack.append((parent, False))
        # One box per layer (a shared layer is drawn once); nested models may expand.
        boxes = {}  # id(layer) -> (entries per input, exits per output)
        for node in ordered:
            layer = node.layer
            if id(layer) in boxes:
                continue
            if self.expand_nested and _is_model(layer):
                boxes[id(layer)] = self.add_model(layer, self._nested_cluster(layer, cluster))
                continue
            inputs = node.input_tensors
            input_shape = [t.shape for t in inputs]
            input_shape = input_shape[0] if len(input_shape) == 1 else (input_shape or None)
            node_outputs = node.output_tensors
            output_shape = [t.shape for t in node_outputs]
            output_shape = output_shape[0] if len(output_shape) == 1 else output_shape
            node_id = self.layer_box(layer, input_shape, output_shape, cluster)
            boxes[id(layer)] = ([[node_id]], [[node_id]])
        for node in ordered:
            entries = boxes[id(node.layer)][0]
            for position, tensor in enumerate(node.input_tensors):
                source_layer, _, tensor_index = tensor._keras_history
                exits = boxes[id(source_layer)][1]
                sources = exits[tensor_index] if tensor_index < len(exits) else exits[-1]
                targets = entries[position] if position < len(entries) else entries[-1]
                for source in sources:
                    for target in targets:
                        self.graph.add_edge(source, target)
        entries = []
        for tensor in getattr(model, "inputs", None) or []:
            box = boxes.get(id(tensor._keras_history[0]))
            if box is not None:
                entries.append(box[0][0])
        exits = []
        for tensor in outputs:
            source_layer, _, tensor_index = tensor._keras_history
            layer_exits = boxes[id(source_layer)][1]
            exits.append(layer_exits[min(tensor_index, len(layer_exits) - 1)])
        return entries or [[]], exits

    def _add_unconnected(self, model, cluster):
        # A subclassed model has no recorded graph: its layers are shown, unlinked.
        ids = [self.layer_box(layer, None, layer._output_shape, cluster) for layer in model.layers]
        return [ids], [ids]


def _check_options(model, rankdir, dpi):
    from numnet.models.model import Model
    if not isinstance(model, Model):
        raise ValueError(
            f"Argument `model` must be a numnet Model (Sequential, Functional or subclassed). "
            f"Received: model={model!r} (of type {type(model).__name__})"
        )
    if rankdir not in ("TB", "LR"):
        raise ValueError(
            f"Argument `rankdir` must be 'TB' (top to bottom) or 'LR' (left to right). "
            f"Received: rankdir={rankdir!r}"
        )
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or dpi <= 0:
        raise ValueError(f"Argument `dpi` must be a positive number. Received: dpi={dpi!r}")


def _describe(model, show_shapes=False, show_dtype=False, show_layer_names=False, rankdir="TB",
              expand_nested=False, show_layer_activations=False, show_trainable=False):
    graph = _Graph(model.name, rankdir)
    builder = _Builder(graph, show_shapes, show_dtype, show_layer_names, show_layer_activations,
                       show_trainable, expand_nested)
    builder.add_model(model, None)
    return graph


# ----------------------------------------------------------------------------- DOT
def _dot_quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(lines):
    return _dot_quote("\n".join(lines)).replace("\n", "\\n")


def _fill(node):
    if node["trainable"] is None:
        return "#e8f0fe"
    return "#c8efc8" if node["trainable"] else "#f6c8c8"


def _to_dot_source(graph, dpi, splines="ortho"):
    out = [f"digraph {_dot_quote(graph.name)} {{",
           f"  graph [rankdir={graph.rankdir}, concentrate=true, dpi={float(dpi):g}, "
           f"splines={splines}];",
           '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
           "  edge [arrowsize=0.8];"]

    def emit(cluster, indent):
        for cluster_id, info in graph.clusters.items():
            if info["parent"] == cluster:
                out.append(f"{indent}subgraph {cluster_id} {{")
                out.append(f"{indent}  label={_dot_quote(info['label'])}; style=dashed;")
                emit(cluster_id, indent + "  ")
                out.append(f"{indent}}}")
        for node in graph.nodes:
            if node["cluster"] == cluster:
                out.append(f"{indent}{node['id']} [label={_dot_label(node['lines'])}, "
                           f"fillcolor={_dot_quote(_fill(node))}];")

    emit(None, "  ")
    out.extend(f"  {source} -> {target};" for source, target in graph.edges)
    out.append("}")
    return "\n".join(out) + "\n"


def _to_pydot(graph, dpi, splines="ortho"):
    import pydot

    def quote(text):
        return _dot_quote(text)

    dot = pydot.Dot(quote(graph.name), graph_type="digraph", rankdir=graph.rankdir,
                    concentrate="true", dpi=f"{float(dpi):g}", splines=splines)
    dot.set_node_defaults(shape="box", style=quote("rounded,filled"), fontname="Helvetica",
                          fontsize="11")
    dot.set_edge_defaults(arrowsize="0.8")
    containers = {None: dot}
    for cluster_id, info in graph.clusters.items():  # parents are created before children
        cluster = pydot.Cluster(cluster_id[len("cluster_"):], label=quote(info["label"]),
                                style="dashed")
        containers[info["parent"]].add_subgraph(cluster)
        containers[cluster_id] = cluster
    for node in graph.nodes:
        containers[node["cluster"]].add_node(
            pydot.Node(node["id"], label=_dot_label(node["lines"]),
                       fillcolor=quote(_fill(node))))
    for source, target in graph.edges:
        dot.add_edge(pydot.Edge(source, target))
    return dot


def _have_pydot():
    try:
        import pydot  # noqa: F401
    except ImportError:
        return False
    return True


def _have_graphviz():
    return _have_pydot() and shutil.which("dot") is not None


def _have_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, subgraph=False, show_layer_activations=False,
                 show_trainable=False, splines="ortho", **kwargs):
    """Converts a model to a Graphviz graph, as `keras.utils.model_to_dot` does.

    Args:
        model: A numnet `Model` (Sequential, Functional or subclassed).
        show_shapes: Whether to show each layer's input and output shapes.
        show_dtype: Whether to show each layer's dtype.
        show_layer_names: Whether to show layer names next to their class.
        rankdir: `"TB"` for a vertical plot, `"LR"` for a horizontal one.
        expand_nested: Whether to draw the layers of nested models, framed.
        dpi: Dots per inch recorded in the graph.
        subgraph: Kept for Keras compatibility; ignored.
        show_layer_activations: Whether to show the activation of layers
            that have one (`Dense`, `Activation`).
        show_trainable: Whether to show (and colour) trainable layers.
        splines: Graphviz's edge style, default `"ortho"`.

    Returns:
        A `pydot.Dot` when `pydot` is installed; otherwise the DOT source as
        a string (which any Graphviz tool reads).
    """
    _check_options(model, rankdir, dpi)
    graph = _describe(model, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested,
                      show_layer_activations, show_trainable)
    if kwargs:
        raise TypeError(f"model_to_dot() got unexpected keyword arguments: {sorted(kwargs)}")
    if not _have_pydot():
        return _to_dot_source(graph, dpi, splines)
    return _to_pydot(graph, dpi, splines)


# --------------------------------------------------------------------- own layout
def _box_size(node):
    longest = max(len(line) for line in node["lines"])
    return (longest * _CHAR_WIDTH + 2 * _PAD_X,
            len(node["lines"]) * _LINE_HEIGHT + 2 * _PAD_Y)


class _Layout:
    """Where everything goes: `boxes[id] = (x, y, w, h)` (top-left corner, y downwards),
    `clusters[id]` frames likewise, `routes[(source, target)]` the polyline of each arrow."""

    def __init__(self, width, height, boxes, clusters, routes):
        self.width, self.height = width, height
        self.boxes, self.clusters, self.routes = boxes, clusters, routes


def _layout(graph):
    """A layered (Sugiyama-style) layout of `graph`, returned as a `_Layout`.

    Each box goes one rank after the deepest box that feeds it; ranks are rows
    (`TB`) or columns (`LR`). An arrow that skips ranks gets a thin invisible
    placeholder in each rank it crosses, so it runs beside the boxes, not
    through them (the skip connection of a wide-and-deep model is visible).
    In a rank, boxes are ordered by the mean position of what feeds them.
    """
    ranking = _Ranking(graph)
    vertical = graph.rankdir == "TB"
    sizes = {node["id"]: _box_size(node) for node in graph.nodes}
    for chain in ranking.chains.values():
        for dummy in chain:
            sizes[dummy] = (8.0, 0.0) if vertical else (0.0, 8.0)
    width, height, boxes, crossings = _place(graph, ranking, sizes, vertical)
    routes = {}
    for (source, target), chain in ranking.chains.items():
        sx, sy, sw, sh = boxes[source]
        tx, ty, tw, th = boxes[target]
        if vertical:
            start, end = (sx + sw / 2, sy + sh), (tx + tw / 2, ty)
        else:
            start, end = (sx + sw, sy + sh / 2), (tx, ty + th / 2)
        routes[(source, target)] = [start] + [p for d in chain for p in crossings[d]] + [end]
    return _Layout(width, height, boxes, _cluster_frames(graph, boxes), routes)


class _Ranking:
    """The layers of `graph` in ranks, with placeholders where arrows skip ranks.

    `rank` maps each box to its rank, `ranks` lists each rank's members in
    drawing order (placeholders included), `chains` maps each arrow to the
    placeholders it passes through.
    """

    def __init__(self, graph):
        order = [node["id"] for node in graph.nodes]
        first_seen = {node_id: i for i, node_id in enumerate(order)}
        parents = {node_id: [] for node_id in order}
        for source, target in graph.edges:
            parents[target].append(source)
        self.rank = rank = {}
        for node_id in order:  # nodes were added after the nodes feeding them
            rank[node_id] = max((rank[p] + 1 for p in parents[node_id]), default=0)
        n_ranks = max(rank.values(), default=-1) + 1
        self.ranks = [[node_id for node_id in order if rank[node_id] == r]
                      for r in range(n_ranks)]
        self.chains = {}
        for source, target in graph.edges:
            previous, chain = source, []
            for r in range(rank[source] + 1, rank[target]):
                dummy = f"{source}>{target}@{r}"
                parents[dummy] = [previous]
                first_seen[dummy] = first_seen[target] - 0.5
                self.ranks[r].append(dummy)
                chain.append(dummy)
                previous = dummy
            self.chains[(source, target)] = chain
            if chain:
                parents[target] = [chain[-1] if p == source else p for p in parents[target]]
        position = {}
        for members in self.ranks:
            def key(node_id):
                known = [position[p] for p in parents[node_id] if p in position]
                return (sum(known) / len(known) if known else first_seen[node_id],
                        first_seen[node_id])
            members.sort(key=key)
            for index, node_id in enumerate(members):
                position[node_id] = index


def _place(graph, ranking, sizes, vertical):
    """(width, height, boxes, crossings): every box's (x, y, w, h), centred in its rank, and
    the segment each placeholder's arrow runs along across its rank."""
    ranks = ranking.ranks
    # Along the rank axis: thickness of each rank; across it: the rank's total span.
    thickness = [max((sizes[n][1] if vertical else sizes[n][0]) for n in members)
                 for members in ranks]
    spans = [sum((sizes[n][0] if vertical else sizes[n][1]) for n in members)
             + _GAP_IN_RANK * (len(members) - 1) for members in ranks]
    extra = _CLUSTER_PAD + _CLUSTER_LABEL if graph.clusters else 0.0
    across = max(spans, default=0.0) + 2 * (_MARGIN + extra)
    along = sum(thickness) + _GAP_BETWEEN_RANKS * max(len(ranks) - 1, 0) + 2 * (_MARGIN + extra)
    boxes, crossings = {}, {}
    offset = _MARGIN + extra
    for members, thick, span in zip(ranks, thickness, spans):
        cursor = (across - span) / 2
        for node_id in members:
            w, h = sizes[node_id]
            if vertical:
                box = (cursor, offset + (thick - h) / 2, w, h)
                cursor += w + _GAP_IN_RANK
            else:
                box = (offset + (thick - w) / 2, cursor, w, h)
                cursor += h + _GAP_IN_RANK
            if node_id in ranking.rank:
                boxes[node_id] = box
            else:  # a placeholder: the arrow crosses the whole rank here
                x, y, w, h = box
                crossings[node_id] = ([(x + w / 2, offset), (x + w / 2, offset + thick)]
                                      if vertical else
                                      [(offset, y + h / 2), (offset + thick, y + h / 2)])
        offset += thick + _GAP_BETWEEN_RANKS
    width, height = (across, along) if vertical else (along, across)
    return width, height, boxes, crossings


def _cluster_frames(graph, boxes):
    """The frame (x, y, w, h) of each nested model around its boxes and inner frames."""
    clusters = {}
    for cluster_id in reversed(list(graph.clusters)):  # inner frames first
        inside = [boxes[n["id"]] for n in graph.nodes if n["cluster"] == cluster_id]
        inside += [clusters[c] for c, info in graph.clusters.items()
                   if info["parent"] == cluster_id and c in clusters]
        if not inside:
            continue
        x0 = min(b[0] for b in inside) - _CLUSTER_PAD
        y0 = min(b[1] for b in inside) - _CLUSTER_PAD - _CLUSTER_LABEL
        x1 = max(b[0] + b[2] for b in inside) + _CLUSTER_PAD
        y1 = max(b[1] + b[3] for b in inside) + _CLUSTER_PAD
        clusters[cluster_id] = (x0, y0, x1 - x0, y1 - y0)
    return clusters


def _xml(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _to_svg(graph, dpi):
    layout = _layout(graph)
    width, height, boxes, clusters = layout.width, layout.height, layout.boxes, layout.clusters
    scale = dpi / 72.0
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * scale:.0f}" '
           f'height="{height * scale:.0f}" viewBox="0 0 {width:.1f} {height:.1f}" '
           f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" '
           f'font-size="{_FONT_SIZE:g}">',
           f"<title>{_xml(graph.name)}</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#444"/></marker></defs>',
           f'<rect width="{width:.1f}" height="{height:.1f}" fill="white"/>']
    for cluster_id, (x, y, w, h) in clusters.items():
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                   'fill="none" stroke="#777" stroke-dasharray="5,3"/>')
        out.append(f'<text x="{x + 6:.1f}" y="{y + _CLUSTER_LABEL - 3:.1f}" '
                   f'fill="#555">{_xml(graph.clusters[cluster_id]["label"])}</text>')
    for points in layout.routes.values():
        coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline points="{coordinates}" fill="none" stroke="#444" '
                   'marker-end="url(#arrow)"/>')
    for node in graph.nodes:
        x, y, w, h = boxes[node["id"]]
        out.append(f'<g id="{node["id"]}"><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
                   f'height="{h:.1f}" rx="5" fill="{_fill(node)}" stroke="#333"/>')
        for i, line in enumerate(node["lines"]):
            weight = ' font-weight="bold"' if i == 0 else ""
            out.append(f'<text x="{x + w / 2:.1f}" y="{y + _PAD_Y + (i + 0.75) * _LINE_HEIGHT:.1f}" '
                       f'text-anchor="middle"{weight}>{_xml(line)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _draw_matplotlib(graph, to_file, dpi):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, Rectangle

    layout = _layout(graph)
    width, height, boxes, clusters = layout.width, layout.height, layout.boxes, layout.clusters
    figure = Figure(figsize=(width / 72.0, height / 72.0), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, width)
    axes.set_ylim(height, 0)
    axes.axis("off")
    for cluster_id, (x, y, w, h) in clusters.items():
        axes.add_patch(Rectangle((x, y), w, h, fill=False, linestyle="--", edgecolor="#777"))
        axes.text(x + 6, y + _CLUSTER_LABEL - 3, graph.clusters[cluster_id]["label"],
                  fontsize=_FONT_SIZE, family="monospace", color="#555")
    for points in layout.routes.values():
        if len(points) > 2:
            axes.plot([p[0] for p in points[:-1]], [p[1] for p in points[:-1]], color="#444",
                      linewidth=1)
        axes.annotate("", xy=points[-1], xytext=points[-2],
                      arrowprops={"arrowstyle": "-|>", "color": "#444", "shrinkA": 0,
                                  "shrinkB": 0, "linewidth": 1})
    for node in graph.nodes:
        x, y, w, h = boxes[node["id"]]
        axes.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=5",
                                      facecolor=_fill(node), edgecolor="#333"))
        for i, line in enumerate(node["lines"]):
            axes.text(x + w / 2, y + _PAD_Y + (i + 0.5) * _LINE_HEIGHT, line,
                      ha="center", va="center", fontsize=_FONT_SIZE, family="monospace",
                      fontweight="bold" if i == 0 else "normal")
    figure.savefig(to_file, dpi=dpi)


# ---------------------------------------------------------------------- plot_model
def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, splines="ortho", **kwargs):
    """Draws a model's layer graph into an image file, as `keras.utils.plot_model`.

    Every layer is a box and every connection an arrow: a Sequential model is
    a chain, a Functional model shows its branches and merges, and nested
    models are framed when `expand_nested=True`.

    Renderers, in order of preference: Graphviz through `pydot` (when both
    the package and the `dot` program are installed); otherwise numnet's own
    layout, written as SVG text (`.svg`, no dependency) or drawn with
    matplotlib (`.png`, `.pdf`, `.jpg`). A `.dot` file receives the Graphviz
    source. Without pydot/Graphviz and matplotlib, a `.png` raises an
    `ImportError` that says what to install.

    ```python
    numnet.utils.plot_model(model, "model.png", show_shapes=True)
    numnet.utils.plot_model(model, "model.svg", rankdir="LR")
    ```

    Args:
        model: A numnet `Model` (Sequential, Functional or subclassed).
        to_file: The file to write; its extension picks the format.
        show_shapes: Whether to show each layer's input and output shapes.
        show_dtype: Whether to show each layer's dtype.
        show_layer_names: Whether to show layer names next to their class.
        rankdir: `"TB"` for a vertical plot, `"LR"` for a horizontal one.
        expand_nested: Whether to draw the layers of nested models, framed.
        dpi: Image resolution in dots per inch.
        show_layer_activations: Whether to show the activation of layers
            that have one.
        show_trainable: Whether to show (and colour) trainable layers.
        splines: Graphviz's edge style, default `"ortho"`.
        **kwargs: `renderer`: `"auto"` (default), `"graphviz"`, `"matplotlib"` or
            `"svg"` (numnet's own SVG writer) to force one.

    Returns:
        An `IPython.display.Image` of the file when running in IPython and
        the file is a PNG/JPEG; otherwise `None`.
    """
    renderer = kwargs.pop("renderer", "auto")
    if kwargs:
        raise TypeError(f"plot_model() got unexpected keyword arguments: {sorted(kwargs)}")
    if renderer not in _RENDERERS:
        raise ValueError(f"Argument `renderer` must be one of {_RENDERERS}. "
                         f"Received: renderer={renderer!r}")
    _check_options(model, rankdir, dpi)
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1].lower().lstrip(".")
    if extension not in _RASTER_FORMATS + ("svg", "dot", "gv"):
        raise ValueError(
            "Argument `to_file` must end in .png, .svg, .pdf, .jpg, .jpeg, .dot or .gv. "
            f"Received: to_file={to_file!r}"
        )
    graph = _describe(model, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested,
                      show_layer_activations, show_trainable)
    directory = os.path.dirname(os.path.abspath(to_file))
    os.makedirs(directory, exist_ok=True)
    if extension in ("dot", "gv"):
        with open(to_file, "w", encoding="utf-8") as f:
            f.write(_to_dot_source(graph, dpi, splines))
        return None
    _render(graph, to_file, extension, renderer, dpi, splines)
    return _ipython_image(to_file, extension)


def _render(graph, to_file, extension, renderer, dpi, splines):
    """Draws `graph` into `to_file` with `renderer` ("auto" picks the first available)."""
    if renderer == "auto":
        if _have_graphviz():
            renderer = "graphviz"
        elif extension == "svg":
            renderer = "svg"
        elif _have_matplotlib():
            renderer = "matplotlib"
        else:
            raise ImportError(
                f"plot_model needs Graphviz (the `pydot` package and the `dot` program) or "
                f"matplotlib to write {to_file!r}; neither is installed. Install them with: "
                f"{_INSTALL_HINT}. A '.svg' or '.dot' file needs neither."
            )
    if renderer == "graphviz":
        if not _have_graphviz():
            raise ImportError(
                "renderer='graphviz' needs the `pydot` package and Graphviz's `dot` program "
                f"on PATH. Install them with: {_INSTALL_HINT}"
            )
        dot = _to_pydot(graph, dpi, splines)
        dot.write(to_file, format="jpeg" if extension == "jpg" else extension)
    elif renderer == "svg":
        if extension != "svg":
            raise ValueError(f"renderer='svg' writes SVG only. Received: to_file={to_file!r}")
        with open(to_file, "w", encoding="utf-8") as f:
            f.write(_to_svg(graph, dpi))
    else:
        if not _have_matplotlib():
            raise ImportError(
                f"renderer='matplotlib' needs matplotlib. Install it with: {_INSTALL_HINT}")
        _draw_matplotlib(graph, to_file, dpi)


def _ipython_image(to_file, extension):
    if extension not in ("png", "jpg", "jpeg"):
        return None
    import sys
    if "IPython" not in sys.modules:
        return None
    try:
        from IPython import display, get_ipython
    except ImportError:
        return None
    if get_ipython() is None:
        return None
    return display.Image(filename=to_file)
