"""Figures for training results: learning curves, image grids, confusion matrices, predictions.

All functions need matplotlib (`pip install numnet[plot]`), imported only when
one of them is called. They draw on a `matplotlib.figure.Figure` with the Agg
canvas (never a window, no pyplot state), or into the `ax` you pass, and
return the figure; `to_file` also saves it.
"""

import os

import numpy as np

_INSTALL_HINT = "pip install numnet[plot]  (or: pip install matplotlib)"


def _new_figure(figsize, dpi=100):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            f"numnet's plotting functions need matplotlib, which is not installed. "
            f"Install it with: {_INSTALL_HINT}"
        ) from error
    figure = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def _axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    figure = _new_figure(figsize)
    return figure, figure.add_subplot(1, 1, 1)


def _save(figure, to_file, dpi):
    if to_file is not None:
        to_file = os.fspath(to_file)
        directory = os.path.dirname(os.path.abspath(to_file))
        os.makedirs(directory, exist_ok=True)
        figure.savefig(to_file, dpi=dpi)
    return figure


def _history_dict(history):
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise ValueError(
            "Argument `history` must be the History returned by `fit()` or its `history` "
            f"dict of lists. Received: history of type {type(history).__name__}"
        )
    return logs


def plot_learning_curves(history, metrics=None, shift_validation=False, ax=None, to_file=None,
                         figsize=(8, 5), title=None, ylim=None, dpi=100):
    """Plots the loss and every metric, train and validation, on one figure.

    This is the textbook's learning-curves figure
    (`pd.DataFrame(history.history).plot(...)`): one colour per quantity,
    solid for training and dashed with dots for validation, the epoch on the
    x axis. Each epoch's training value is a mean over the epoch while the
    validation value is measured at its end; `shift_validation=True` draws the
    validation curves half an epoch to the right so both refer to the same
    moment (the correction the textbook describes).

    ```python
    history = model.fit(x, y, validation_data=(x_val, y_val), epochs=30)
    numnet.utils.plot_learning_curves(history, to_file="curves.png")
    ```

    Args:
        history: The `History` returned by `fit()`, or its `history` dict.
        metrics: Names of the quantities to plot (e.g. `["loss"]`); the
            `val_` curve of each is added. Default: all of them.
        shift_validation: Whether to shift validation curves by half an
            epoch to the right.
        ax: A matplotlib `Axes` to draw into; a new figure by default.
        to_file: If given, the figure is saved there (`.png`, `.svg`, ...).
        figsize: Size of a new figure, in inches.
        title: Optional figure title.
        ylim: Optional `(bottom, top)` limits of the y axis.
        dpi: Resolution of the saved file.

    Returns:
        The matplotlib `Figure`.
    """
    logs = _history_dict(history)
    names = [k for k in logs if not k.startswith("val_")]
    names += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in logs]
    if metrics is not None:
        if isinstance(metrics, str):
            metrics = [metrics]
        unknown = [m for m in metrics if m not in logs and f"val_{m}" not in logs]
        if unknown:
            raise ValueError(
                f"Argument `metrics` names quantities absent from the history: {unknown}. "
                f"Expected some of {names}."
            )
        names = list(metrics)
    if not names:
        raise ValueError("Argument `history` holds no logged values: train the model first.")
    figure, axes = _axes(ax, figsize)
    colors = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown",
              "tab:pink", "tab:gray"]
    for i, name in enumerate(names):
        color = colors[i % len(colors)]
        if name in logs:
            values = np.asarray(logs[name], dtype="float64")
            style = "-" if len(values) > 1 else "o"  # a single epoch still shows a point
            axes.plot(np.arange(len(values)), values, style, color=color, label=name)
        if f"val_{name}" in logs:
            values = np.asarray(logs[f"val_{name}"], dtype="float64")
            epochs = np.arange(len(values)) + (0.5 if shift_validation else 0.0)
            axes.plot(epochs, values, "--.", color=color, label=f"val_{name}")
    axes.set_xlabel("Epoch")
    axes.grid(True)
    axes.legend(loc="best")
    if ylim is not None:
        axes.set_ylim(*ylim)
    if title:
        axes.set_title(title)
    return _save(figure, to_file, dpi)


plot_history = plot_learning_curves


def plot_image_grid(images, labels=None, predictions=None, class_names=None, n_rows=4,
                    n_cols=10, to_file=None, cmap="binary", dpi=100, cell_size=1.2):
    """Draws a grid of images titled with their labels, like the textbook's Fashion-MNIST figure.

    With `predictions`, each title reads `"predicted"` over `"(true)"` when `labels`
    are given too, in red where the prediction is wrong.

    Args:
        images: Array of shape `(n, height, width)` or `(n, height, width,
            channels)`; the first `n_rows * n_cols` are drawn.
        labels: Optional true class indices, shape `(n,)`.
        predictions: Optional predicted class indices `(n,)` or class
            probabilities `(n, n_classes)` (the argmax is taken).
        class_names: Optional names indexed by class (e.g.
            `numnet.datasets.fashion_mnist.CLASS_NAMES`).
        n_rows, n_cols: Grid size.
        to_file: If given, the figure is saved there.
        cmap: Colormap for single-channel images.
        dpi: Resolution of the saved file.
        cell_size: Size of one cell, in inches.

    Returns:
        The matplotlib `Figure`.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(
            "Argument `images` must be a non-empty array of shape (n, height, width) or "
            f"(n, height, width, channels). Received: shape {images.shape}"
        )
    for name, value in (("n_rows", n_rows), ("n_cols", n_cols)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"Argument `{name}` must be a positive integer. "
                             f"Received: {name}={value!r}")
    labels = None if labels is None else np.asarray(labels).reshape(-1)
    if predictions is not None:
        predictions = np.asarray(predictions)
        if predictions.ndim == 2 and predictions.shape[1] > 1:
            predictions = predictions.argmax(axis=1)
        predictions = predictions.reshape(-1)

    def name_of(index):
        index = int(index)
        return str(class_names[index]) if class_names is not None else str(index)

    figure = _new_figure((n_cols * cell_size, n_rows * cell_size))
    count = min(n_rows * n_cols, len(images))
    for i in range(count):
        axes = figure.add_subplot(n_rows, n_cols, i + 1)
        image = images[i]
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        axes.imshow(image, cmap=cmap if image.ndim == 2 else None, interpolation="nearest")
        axes.axis("off")
        color = "black"
        if predictions is not None:
            text = name_of(predictions[i])
            if labels is not None:
                text = f"{text}\n({name_of(labels[i])})"  # two lines: titles never collide
                if int(predictions[i]) != int(labels[i]):
                    color = "red"
        elif labels is not None:
            text = name_of(labels[i])
        else:
            text = None
        if text is not None:
            axes.set_title(text, fontsize=7, color=color)
    figure.subplots_adjust(wspace=0.2, hspace=0.7)
    return _save(figure, to_file, dpi)


def _class_indices(values, argument):
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] > 1:
        values = values.argmax(axis=1)
    values = values.reshape(-1)
    if values.size and (np.any(values < 0) or np.any(values != np.round(values))):
        raise ValueError(f"Argument `{argument}` must hold class indices (non-negative "
                         "integers) or class probabilities of shape (n, n_classes).")
    return values.astype("int64")


def plot_confusion_matrix(y_true, y_pred, class_names=None, normalize=None, to_file=None,
                          ax=None, figsize=(7, 6), cmap="Blues", dpi=100, title=None):
    """Draws the confusion matrix of a classifier: true class by row, predicted by column.

    Args:
        y_true: True class indices `(n,)` (or one-hot `(n, n_classes)`).
        y_pred: Predicted class indices `(n,)` or class probabilities
            `(n, n_classes)` (the argmax is taken).
        class_names: Optional names indexed by class, for the tick labels.
        normalize: `None` (counts), `"true"` (rows sum to 1), `"pred"`
            (columns sum to 1) or `"all"`, as in scikit-learn.
        to_file: If given, the figure is saved there.
        ax: A matplotlib `Axes` to draw into; a new figure by default.
        figsize: Size of a new figure, in inches.
        cmap: Colormap.
        dpi: Resolution of the saved file.
        title: Optional title.

    Returns:
        The matplotlib `Figure`.
    """
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError("Argument `normalize` must be None, 'true', 'pred' or 'all'. "
                         f"Received: normalize={normalize!r}")
    y_true = _class_indices(y_true, "y_true")
    y_pred = _class_indices(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"Arguments `y_true` and `y_pred` must have the same length. "
                         f"Received: {len(y_true)} and {len(y_pred)}")
    n_classes = len(class_names) if class_names is not None else \
        int(max(y_true.max(initial=-1), y_pred.max(initial=-1)) + 1)
    matrix = np.zeros((n_classes, n_classes), dtype="float64")
    np.add.at(matrix, (y_true, y_pred), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalize == "true":
            matrix = np.nan_to_num(matrix / matrix.sum(axis=1, keepdims=True))
        elif normalize == "pred":
            matrix = np.nan_to_num(matrix / matrix.sum(axis=0, keepdims=True))
        elif normalize == "all":
            matrix = matrix / max(matrix.sum(), 1)
    figure, axes = _axes(ax, figsize)
    image = axes.imshow(matrix, cmap=cmap, interpolation="nearest")
    figure.colorbar(image, ax=axes)
    names = [str(c) for c in class_names] if class_names is not None else \
        [str(i) for i in range(n_classes)]
    axes.set_xticks(range(n_classes), names, rotation=45, ha="right")
    axes.set_yticks(range(n_classes), names)
    axes.set_xlabel("Predicted label")
    axes.set_ylabel("True label")
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(n_classes):
        for j in range(n_classes):
            text = f"{matrix[i, j]:.2f}" if normalize else f"{int(matrix[i, j])}"
            axes.text(j, i, text, ha="center", va="center", fontsize=7,
                      color="white" if matrix[i, j] > threshold else "black")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return _save(figure, to_file, dpi)


def plot_predictions(y_true, y_pred, to_file=None, ax=None, figsize=(6, 6), dpi=100, title=None,
                     alpha=0.3):
    """Scatter plot of a regressor's predictions against the true values.

    Points on the dashed diagonal are perfect predictions; the title shows
    the RMSE unless `title` is given.

    Args:
        y_true: True targets, shape `(n,)` or `(n, 1)`.
        y_pred: Predictions, shape `(n,)` or `(n, 1)`.
        to_file: If given, the figure is saved there.
        ax: A matplotlib `Axes` to draw into; a new figure by default.
        figsize: Size of a new figure, in inches.
        dpi: Resolution of the saved file.
        title: Title (default: the RMSE).
        alpha: Point opacity.

    Returns:
        The matplotlib `Figure`.
    """
    y_true = np.asarray(y_true, dtype="float64")
    y_pred = np.asarray(y_pred, dtype="float64")
    if y_true.size != y_pred.size or y_true.size == 0:
        raise ValueError(
            "Arguments `y_true` and `y_pred` must hold the same non-zero number of values "
            f"(one target per sample). Received shapes {y_true.shape} and {y_pred.shape}"
        )
    y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)
    figure, axes = _axes(ax, figsize)
    axes.scatter(y_true, y_pred, s=8, alpha=alpha)
    low = float(min(y_true.min(), y_pred.min()))
    high = float(max(y_true.max(), y_pred.max()))
    axes.plot([low, high], [low, high], "k--", linewidth=1, label="perfect prediction")
    axes.set_xlabel("True value")
    axes.set_ylabel("Predicted value")
    axes.grid(True)
    axes.legend(loc="upper left")
    rmse = float(np.sqrt(np.mean((y_true - y_pred) ** 2)))
    axes.set_title(title if title is not None else f"RMSE = {rmse:.4g}")
    return _save(figure, to_file, dpi)
