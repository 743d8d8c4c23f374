"""`model.summary()`: the Keras-style table of layers, shapes and parameter counts."""


_TOP = ("┏", "━", "┳", "┓")
_HEAD_SEP = ("┡", "━", "╇", "┩")
_ROW_SEP = ("├", "─", "┼", "┤")
_BOTTOM = ("└", "─", "┴", "┘")


def _format_size(n_bytes):
    for unit, scale in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.2f} {unit}"
    return f"{n_bytes:.2f} B"


def _params_line(label, variables):
    count = int(sum(v.data.size for v in variables))
    size = int(sum(v.data.nbytes for v in variables))
    return f" {label}: {count:,} ({_format_size(size)})"


def _shape_str(shape):
    if shape is None:
        return "?"
    if isinstance(shape, list) or (isinstance(shape, tuple) and shape and isinstance(shape[0], tuple)):
        return ", ".join(_shape_str(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def _rows(model):
    """(name (type), output shape, params, connected-to) rows for the model's layers."""
    rows = []
    functional = hasattr(model, "_nodes_by_depth") or getattr(model, "_is_graph_network", False)
    layers = getattr(model, "_summary_layers", None)
    layers = layers() if callable(layers) else model.layers
    for layer in layers:
        try:
            params = f"{layer.count_params():,}" if layer.built or layer.weights else "0 (unbuilt)"
        except ValueError:
            params = "0 (unbuilt)"
        if type(layer).__name__ == "InputLayer":
            params = "0" if not functional else "0"
        connected = ""
        if functional and hasattr(model, "_connected_to"):
            connected = model._connected_to(layer)
        rows.append((f"{layer.name} ({type(layer).__name__})", _shape_str(layer._output_shape),
                     params, connected))
    return rows, functional


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    """Prints (or passes to `print_fn`) the summary table of `model`."""
    print_fn = print_fn or (lambda line, **kwargs: print(line))
    rows, functional = _rows(model)
    if layer_range is not None:
        names = [r[0].split(" (")[0] for r in rows]
        start, end = names.index(layer_range[0]), names.index(layer_range[1]) + 1
        rows = rows[start:end]
    headers = ["Layer (type)", "Output Shape", "Param #"]
    if functional:
        headers.append("Connected to")
    if show_trainable:
        headers.append("Trainable")
        trainable = [("Y" if layer.trainable else "N") for layer in model.layers]
        rows = [r + (t,) for r, t in zip(rows, trainable)]
    cells = [list(r[:3]) + ([r[3]] if functional else []) + (list(r[4:]) if show_trainable else [])
             for r in rows]
    widths = [31, 22, 13, 24][:len(headers)] if functional else [31, 22, 13]
    if show_trainable:
        widths = widths + [9]
    for i in range(len(headers)):
        widths[i] = max([widths[i], len(headers[i])] + [len(c[i].split("\n")[0]) for c in cells])
    if line_length:
        extra = line_length - (sum(widths) + 3 * len(widths) + 1)
        if extra > 0:
            widths[0] += extra

    def rule(chars):
        left, fill, mid, right = chars
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def line(values, sep="│", right_align=(2,)):
        parts = []
        for i, (value, width) in enumerate(zip(values, widths)):
            parts.append(" " + (value.rjust(width) if i in right_align else value.ljust(width)) + " ")
        return sep + sep.join(parts) + sep

    print_fn(f'Model: "{model.name}"')
    print_fn(rule(_TOP))
    print_fn(line(headers, sep="┃"))
    print_fn(rule(_HEAD_SEP))
    for i, c in enumerate(cells):
        connected = c[3].split("\n") if functional and c[3] else [""]
        first = list(c)
        if functional:
            first[3] = connected[0]
        print_fn(line(first))
        for extra in connected[1:]:
            blank = [""] * len(c)
            blank[3] = extra
            print_fn(line(blank))
        print_fn(rule(_ROW_SEP) if i < len(cells) - 1 else rule(_BOTTOM))
    if not cells:
        print_fn(rule(_BOTTOM))
    weights = model.weights
    trainable = model.trainable_weights
    trainable_ids = {id(v) for v in trainable}
    print_fn(_params_line("Total params", weights))
    print_fn(_params_line("Trainable params", trainable))
    print_fn(_params_line("Non-trainable params",
                          [v for v in weights if id(v) not in trainable_ids]))
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "built", False):
        print_fn(_params_line("Optimizer params", optimizer.variables))
