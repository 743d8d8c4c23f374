"""The `numnet` command: train the textbook models, then evaluate, predict, summarize and plot.

```
numnet train fashion-mnist --epochs 30 --out runs/fmnist
numnet evaluate runs/fmnist/model.keras --data fashion-mnist
numnet predict runs/fmnist/model.keras images.npy --out predictions.csv
numnet summary runs/fmnist/model.keras
numnet plot runs/fmnist/model.keras --to-file model.png --show-shapes
numnet serve runs/fmnist/model.keras --name fmnist --port 8501
numnet export runs/fmnist/model.keras --format onnx --out model.onnx
```

`python -m numnet ...` is the same command. Exit status: 0 on success, 1 when
the work itself fails (a model that cannot be loaded, a failed save), 2 for
bad arguments or missing input files (as argparse does), 130 on Ctrl-C.
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np

PROG = "numnet"
_DATASETS = ("fashion-mnist", "california-housing")
_DEFAULTS = {
    # The textbook's models (Hands-On ML, chapter 10).
    "fashion-mnist": {"epochs": 30, "batch_size": 32, "optimizer": "sgd", "learning_rate": 0.01,
                      "hidden": "300,100"},
    "california-housing": {"epochs": 20, "batch_size": 32, "optimizer": "adam",
                           "learning_rate": 1e-3, "hidden": "50,50,50"},
}


class UsageError(Exception):
    """A bad command-line argument: reported with the usage line, exit status 2."""


class CommandError(Exception):
    """The command could not do its work: reported as `numnet: error: ...`, exit status 1."""


# ------------------------------------------------------------------------ arguments
def _positive_int(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(
                f"expected a positive integer for {name}, got {text!r}")
        return value
    return parse


def _positive_float(name):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value > 0 or not np.isfinite(value):
            raise argparse.ArgumentTypeError(
                f"expected a positive number for {name}, got {text!r}")
        return value
    return parse


def _non_negative_int(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value < 0:
            raise argparse.ArgumentTypeError(
                f"expected a non-negative integer for {name}, got {text!r}")
        return value
    return parse


def _hidden_sizes(text):
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        sizes = []
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive layer sizes such as 300,100, got {text!r}")
    return sizes


def build_parser():
    """Returns the `argparse` parser of the `numnet` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="numnet: neural networks on NumPy with the Keras API. Train the "
                    "textbook models and inspect saved `.keras` models.",
    )
    from numnet import __version__
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    subparsers = [_add_train_parser(commands), _add_evaluate_parser(commands),
                  _add_predict_parser(commands), _add_summary_parser(commands),
                  _add_plot_parser(commands), _add_playground_parser(commands),
                  _add_export_parser(commands)]
    for subparser in subparsers:
        subparser.set_defaults(parser=subparser)
    _add_serve_parser(commands)
    return parser


def _add_train_parser(commands):
    """`numnet train`: the textbook models, trained with checkpoints and figures."""
    train = commands.add_parser(
        "train", help="train a textbook model on a dataset",
        description="Trains the textbook model (Hands-On ML ch. 10) with a progress bar, "
                    "early stopping and checkpoints, and writes into --out: model.keras, "
                    "checkpoint.keras, history.csv, history.json, metrics.json (test accuracy "
                    "or RMSE) and PNG figures (learning curves; a confusion matrix and sample "
                    "predictions or a predicted-vs-true scatter).")
    train.add_argument("dataset", choices=_DATASETS, metavar="DATASET",
                       help="one of: " + ", ".join(_DATASETS))
    train.add_argument("--epochs", type=_positive_int("--epochs"),
                       help="maximum number of epochs (30 for fashion-mnist, 20 for "
                            "california-housing)")
    train.add_argument("--batch-size", type=_positive_int("--batch-size"), help="default 32")
    train.add_argument("--learning-rate", type=_positive_float("--learning-rate"),
                       help="default 0.01 (SGD, fashion-mnist) or 0.001 (Adam, housing)")
    train.add_argument("--optimizer", help="sgd, adam, adamw, nadam, rmsprop or adagrad")
    train.add_argument("--hidden", type=_hidden_sizes,
                       help="hidden layer sizes, e.g. 300,100 (default) or 50,50,50 (housing)")
    train.add_argument("--seed", type=_non_negative_int("--seed"), default=42,
                       help="random seed (default 42)")
    train.add_argument("--out", default=None, help="output folder (default ./numnet-DATASET)")
    train.add_argument("--limit", type=_positive_int("--limit"),
                       help="use only the first N training samples (quick runs)")
    train.add_argument("--sample", action="store_true",
                       help="use the small real-data sample shipped with numnet (no download)")
    train.add_argument("--patience", type=_positive_int("--patience"), default=10,
                       help="early-stopping patience in epochs (default 10)")
    train.add_argument("--shift-validation", action="store_true",
                       help="draw validation curves half an epoch to the right")
    train.add_argument("--no-plots", action="store_true", help="do not write the figures")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    return train


def _add_evaluate_parser(commands):
    """`numnet evaluate`: a saved model's loss and metrics on a dataset or files."""
    evaluate = commands.add_parser(
        "evaluate", help="evaluate a saved model",
        description="Evaluates a saved model and prints its loss and metrics.")
    evaluate.add_argument("model", metavar="MODEL", help="a model saved as .keras")
    evaluate.add_argument("--data", required=True,
                          help="a dataset name (" + ", ".join(_DATASETS) + ": its test split, "
                               "preprocessed as `numnet train` does), an .npz file with arrays "
                               "x and y, or an .npy/.csv file of inputs (with --labels)")
    evaluate.add_argument("--sample", action="store_true",
                          help="with a dataset name: use the sample shipped with numnet")
    evaluate.add_argument("--labels", help="an .npy/.csv file of targets, with --data FILE")
    evaluate.add_argument("--batch-size", type=_positive_int("--batch-size"), default=32)
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")
    return evaluate


def _add_predict_parser(commands):
    """`numnet predict`: a saved model run on an .npy or .csv file."""
    predict = commands.add_parser(
        "predict", help="predict with a saved model",
        description="Runs a saved model on inputs from an .npy or .csv file. Inputs are "
                    "used as they are: for a fashion-mnist model from `numnet train`, "
                    "pixel values scaled to [0, 1].")
    predict.add_argument("model", metavar="MODEL", help="a model saved as .keras")
    predict.add_argument("input", metavar="INPUT", help="an .npy or .csv file of inputs")
    predict.add_argument("--out", help="write the predictions to this .npy or .csv file "
                                       "(default: CSV on standard output)")
    predict.add_argument("--classes", action="store_true",
                         help="output the predicted class index (argmax) of each sample")
    predict.add_argument("--batch-size", type=_positive_int("--batch-size"), default=32)
    return predict


def _add_summary_parser(commands):
    """`numnet summary`: a saved model's summary table."""
    summary = commands.add_parser("summary", help="print a saved model's summary table",
                                  description="Prints the Keras-style summary of a saved model.")
    summary.add_argument("model", metavar="MODEL", help="a model saved as .keras")
    summary.add_argument("--line-length", type=_positive_int("--line-length"))
    summary.add_argument("--show-trainable", action="store_true")
    return summary


def _add_plot_parser(commands):
    """`numnet plot`: a saved model's layer graph drawn to a file."""
    plot = commands.add_parser(
        "plot", help="draw a saved model's layer graph",
        description="Draws the layer graph of a saved model (numnet.utils.plot_model) into a "
                    ".png, .svg, .pdf or .dot file.")
    plot.add_argument("model", metavar="MODEL", help="a model saved as .keras")
    plot.add_argument("--to-file", default="model.png", help="output file (default model.png)")
    plot.add_argument("--show-shapes", action="store_true")
    plot.add_argument("--show-dtype", action="store_true")
    plot.add_argument("--show-layer-names", action="store_true")
    plot.add_argument("--show-layer-activations", action="store_true")
    plot.add_argument("--show-trainable", action="store_true")
    plot.add_argument("--expand-nested", action="store_true")
    plot.add_argument("--rankdir", choices=("TB", "LR"), default="TB")
    plot.add_argument("--dpi", type=_positive_int("--dpi"), default=200)
    return plot


def _add_playground_parser(commands):
    """`numnet playground`: the browser playground's server."""
    playground = commands.add_parser(
        "playground", help="watch a network learn in the browser",
        description="Serves the numnet playground (needs `pip install \"numnet[playground]\"`) "
                    "and prints its address. It binds to 127.0.0.1 unless --host says otherwise; "
                    "Ctrl-C stops it (exit status 0).")
    playground.add_argument("--port", type=_non_negative_int("--port"), default=8000,
                            help="TCP port (default 8000; 0 picks a free one)")
    playground.add_argument("--host", default="127.0.0.1", help="address to bind (default "
                                                                "127.0.0.1: this machine only)")
    playground.add_argument("--open", action="store_true", help="open the page in a browser")
    return playground


def _add_export_parser(commands):
    export = commands.add_parser(
        "export", help="export a saved model for inference (ONNX, SavedModel or NumPy)",
        description="Writes the model's forward pass as an ONNX file (ONNX Runtime; needs "
                    "numnet[export]), a TensorFlow SavedModel folder (needs TensorFlow) or a "
                    "folder with a plain NumPy module and its weights.")
    export.add_argument("model", metavar="MODEL", help="a model saved as .keras")
    export.add_argument("--format", required=True, choices=("onnx", "tf_saved_model", "numpy"))
    export.add_argument("--out", required=True, metavar="PATH",
                        help="the .onnx file, or the SavedModel/NumPy folder, to write")
    export.add_argument("--opset", type=_positive_int("--opset"),
                        help="ONNX opset version (default 17)")
    return export


def _add_serve_parser(commands):
    serve = commands.add_parser(
        "serve", help="serve a saved model over HTTP (TF Serving REST and KServe v2)",
        description="Serves a model over HTTP, speaking TensorFlow Serving's REST API "
                    "(/v1/models/NAME:predict) and the Open Inference Protocol v2 "
                    "(/v2/models/NAME/infer), with micro-batching and /metrics. Needs "
                    "pip install \"numnet[serve]\". SIGTERM finishes in-flight requests, then "
                    "exits.")
    serve.add_argument("model", metavar="MODEL",
                       help="a .keras file or an export of model.export (an .onnx file, "
                            "a SavedModel folder), a folder NAME/ with version folders "
                            "NAME/1/, NAME/2/ (each holding one of those; the largest is "
                            "served by default), or a folder of such model folders")
    serve.add_argument("--name", help="the model name in URLs (default: the file or folder "
                                      "name)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=_non_negative_int("--port"), default=8501,
                       help="TCP port (default 8501, TF Serving's REST port)")
    serve.add_argument("--max-batch-size", type=_positive_int("--max-batch-size"), default=64,
                       help="most rows merged into one model call (default 64; 1 turns "
                            "micro-batching off)")
    serve.add_argument("--batch-timeout-ms", type=_non_negative_float("--batch-timeout-ms"),
                       default=2.0, help="most time a batch waits for requests that are "
                                         "being received (default 2)")
    serve.add_argument("--workers", type=_positive_int("--workers"), default=1,
                       help="server processes, each with the models loaded and its own "
                            "micro-batching (default 1)")
    serve.add_argument("--max-body-bytes", type=_positive_int("--max-body-bytes"),
                       default=16 * 1024 * 1024,
                       help="larger request bodies get HTTP 413 (default 16777216 = 16 MiB)")
    serve.add_argument("--allow-nan", action="store_true",
                       help="pass NaN and infinite inputs to the model (default: HTTP 400)")
    serve.add_argument("--threads", type=_non_negative_int("--threads"), default=1,
                       help="BLAS threads per server process for the model (default 1, which "
                            "leaves the other cores to the HTTP work; 0: leave unchanged)")
    serve.add_argument("--graceful-timeout", type=_non_negative_float("--graceful-timeout"),
                       default=30.0, help="seconds to finish in-flight requests after "
                                          "SIGTERM (default 30)")
    serve.add_argument("--log-level", default="info",
                       choices=("critical", "error", "warning", "info", "debug"))
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(parser=serve)


def _non_negative_float(name):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value >= 0 or not np.isfinite(value):
            raise argparse.ArgumentTypeError(
                f"expected a non-negative number for {name}, got {text!r}")
        return value
    return parse


# ------------------------------------------------------------------------ data
def _load_fashion_mnist(limit=None, sample=False):
    from numnet.datasets import fashion_mnist
    (x_full, y_full), (x_test, y_test) = fashion_mnist.load_data(sample=sample)
    x_full = x_full.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0
    n_valid = max(1, min(5000, len(x_full) // 12))  # the textbook keeps 5,000 of 60,000
    x_train, y_train = x_full[:-n_valid], y_full[:-n_valid]
    x_valid, y_valid = x_full[-n_valid:], y_full[-n_valid:]
    if limit is not None:
        x_train, y_train = x_train[:limit], y_train[:limit]
    return (x_train, y_train), (x_valid, y_valid), (x_test, y_test)


def _load_california_housing(limit=None, seed=42, sample=False):
    from numnet.datasets import california_housing
    x, y = california_housing.fetch(return_X_y=True, sample=sample)
    x, y = x.astype("float32"), y.astype("float32")
    # As the textbook's two train_test_split calls: 25% test, then 25% of the rest valid.
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(np.ceil(0.25 * len(x)))
    test, rest = order[:n_test], order[n_test:]
    n_valid = int(np.ceil(0.25 * len(rest)))
    valid, train = rest[:n_valid], rest[n_valid:]
    if limit is not None:
        train = train[:limit]
    return (x[train], y[train]), (x[valid], y[valid]), (x[test], y[test])


def _noting_sample_fallback(load):
    """Runs `load()`; returns its result and whether a loader fell back to the shipped sample.

    The loaders' warnings are shown as usual.
    """
    from numnet.datasets import SampleFallbackWarning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = load()
    for warning in caught:
        _warn(warning.message)
    return result, any(issubclass(w.category, SampleFallbackWarning) for w in caught)


def _data_source(sample_flag, fell_back):
    """What `metrics.json` says about the data the numbers come from."""
    if sample_flag:
        return {"used_shipped_sample": True, "data_source": "the sample shipped with numnet "
                "(--sample)"}
    if fell_back:
        return {"used_shipped_sample": True, "data_source": "the sample shipped with numnet: "
                "the full dataset was neither found locally nor downloaded (set NUMNET_DATA "
                "to a folder holding it, or allow the download)"}
    return {"used_shipped_sample": False, "data_source": "the full dataset"}


def _build_model(dataset, hidden, x_train):
    import numnet
    layers = numnet.layers
    if dataset == "fashion-mnist":
        model = numnet.Sequential(
            [layers.Input(shape=[28, 28]), layers.Flatten()]
            + [layers.Dense(units, activation="relu") for units in hidden]
            + [layers.Dense(10, activation="softmax")])
        return model, "sparse_categorical_crossentropy", ["accuracy"]
    normalization = layers.Normalization()
    normalization.adapt(x_train)
    model = numnet.Sequential(
        [layers.Input(shape=x_train.shape[1:]), normalization]
        + [layers.Dense(units, activation="relu") for units in hidden]
        + [layers.Dense(1)])
    return model, "mse", [numnet.metrics.RootMeanSquaredError()]


def _read_array(path, argument):
    if not os.path.isfile(path):
        raise UsageError(f"argument {argument}: no such file: {path!r} "
                         "(expected an existing .npy or .csv file)")
    extension = os.path.splitext(path)[1].lower()
    try:
        if extension == ".npy":
            return np.load(path, allow_pickle=False)
        if extension == ".csv":
            try:
                return np.loadtxt(path, delimiter=",", dtype="float32", ndmin=2)
            except ValueError:  # a header line
                return np.loadtxt(path, delimiter=",", dtype="float32", ndmin=2, skiprows=1)
    except (OSError, ValueError) as error:
        raise UsageError(f"argument {argument}: cannot read {path!r} as a numeric array "
                         f"({error})") from error
    raise UsageError(f"argument {argument}: expected a .npy or .csv file, got {path!r}")


def _fit_input_shape(model, x):
    # A flat CSV row of 784 values feeds a (28, 28) model input, for example.
    try:
        shape = tuple(model.input_shape)
    except (AttributeError, ValueError, TypeError):
        return x
    if isinstance(shape[0], (tuple, list)) or None in shape[1:]:
        return x
    wanted = tuple(shape[1:])
    if x.ndim >= 1 and x.shape[1:] != wanted and x.size == len(x) * int(np.prod(wanted)):
        return x.reshape((len(x),) + wanted)
    if x.ndim == len(wanted) and x.shape == wanted:  # a single sample
        return x[None]
    return x


# ------------------------------------------------------------------------ helpers
def _check_output_file(path, what):
    """Fails before any work when `path` cannot be written: its folder must already exist."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CommandError(f"cannot write {what} to {path!r}: it is a folder")
    if not os.path.isdir(folder):
        raise CommandError(f"cannot write {what} to {path!r}: the folder {folder!r} does not "
                           "exist (create it first)")


def _check_dependencies(args):
    """Checks, before any long work, the packages the command needs.

    Reading and writing model files needs h5py (a required dependency that a
    broken environment may lack); `train`'s figures need matplotlib, whose
    absence is reported now rather than after training.
    """
    try:
        import h5py  # noqa: F401
    except ImportError:
        raise CommandError("numnet needs h5py to read and write model files and it is not "
                           "installed in this environment: pip install h5py") from None
    if args.command == "train" and not args.no_plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            _warn("matplotlib is not installed, so the figures will be skipped; install it "
                  "with `pip install numnet[plot]` (or pass --no-plots to silence this)")


def _load_model(path):
    if not os.path.exists(path):
        raise UsageError(f"argument MODEL: no such file: {path!r} (expected a model saved "
                         "with model.save('name.keras') or by `numnet train`)")
    import numnet.models
    load_model = getattr(numnet.models, "load_model", None)
    if load_model is None:
        try:
            from numnet.saving import load_model
        except ImportError as error:
            raise CommandError(f"cannot load {path!r}: model loading (numnet.saving."
                               f"load_model) is not available ({error})") from error
    try:
        return load_model(path)
    except Exception as error:
        raise CommandError(f"cannot load the model {path!r}: {error}") from error


def _warn(message):
    message = str(message)
    if message.startswith(f"{PROG}: "):  # the library's own messages already say "numnet:"
        message = message[len(PROG) + 2:]
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    _warn(f"{message}")


def _write_history(history, out_dir):
    logs = {key: [float(v) for v in values] for key, values in history.history.items()}
    epochs = list(range(len(next(iter(logs.values()), []))))
    with open(os.path.join(out_dir, "history.json"), "w", encoding="utf-8") as f:
        json.dump({"epoch": epochs, "history": logs}, f, indent=2)
    keys = sorted(logs)
    with open(os.path.join(out_dir, "history.csv"), "w", encoding="utf-8") as f:
        f.write(",".join(["epoch"] + keys) + "\n")
        for i in epochs:
            f.write(",".join([str(i)] + [repr(logs[k][i]) for k in keys]) + "\n")


def _callbacks(out_dir, patience):
    try:
        from numnet.callbacks import EarlyStopping, ModelCheckpoint
    except ImportError as error:
        _warn(f"training without early stopping and checkpoints: {error}")
        return []
    return [ModelCheckpoint(os.path.join(out_dir, "checkpoint.keras"), monitor="val_loss",
                            save_best_only=True),
            EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)]


def _write_figures(dataset, model, history, test, out_dir, shift_validation):
    try:
        from numnet.utils import plots
        x_test, y_test = test
        plots.plot_learning_curves(history, shift_validation=shift_validation,
                                   to_file=os.path.join(out_dir, "learning_curves.png"))
        y_pred = model.predict(x_test, verbose=0)
        if dataset == "fashion-mnist":
            from numnet.datasets import fashion_mnist
            plots.plot_confusion_matrix(y_test, y_pred, class_names=fashion_mnist.CLASS_NAMES,
                                        to_file=os.path.join(out_dir, "confusion_matrix.png"))
            plots.plot_image_grid(x_test, labels=y_test, predictions=y_pred,
                                  class_names=fashion_mnist.CLASS_NAMES, n_rows=3, n_cols=8,
                                  to_file=os.path.join(out_dir, "sample_predictions.png"))
        else:
            plots.plot_predictions(y_test, y_pred,
                                   to_file=os.path.join(out_dir, "predictions.png"))
    except ImportError as error:
        _warn(f"figures skipped: {error}")


# ------------------------------------------------------------------------ commands
def _cmd_train(args):
    import numnet
    defaults = _DEFAULTS[args.dataset]
    epochs = args.epochs or defaults["epochs"]
    batch_size = args.batch_size or defaults["batch_size"]
    learning_rate = args.learning_rate or defaults["learning_rate"]
    hidden = args.hidden or _hidden_sizes(defaults["hidden"])
    optimizer_name = (args.optimizer or defaults["optimizer"]).lower()
    try:
        optimizer = type(numnet.optimizers.get(optimizer_name))(learning_rate=learning_rate)
    except ValueError:
        raise UsageError(f"argument --optimizer: expected one of adagrad, adam, adamw, nadam, "
                         f"rmsprop, sgd, got {args.optimizer!r}") from None
    out_dir = args.out or f"numnet-{args.dataset}"
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError(f"argument --out: expected a folder, but {out_dir!r} is a file")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as error:
        raise UsageError(f"argument --out: cannot create the folder {out_dir!r} ({error})") \
            from error

    numnet.utils.set_random_seed(args.seed)
    try:
        if args.dataset == "fashion-mnist":
            (train, valid, test), fell_back = _noting_sample_fallback(
                lambda: _load_fashion_mnist(args.limit, sample=args.sample))
        else:
            (train, valid, test), fell_back = _noting_sample_fallback(
                lambda: _load_california_housing(args.limit, seed=args.seed, sample=args.sample))
    except (OSError, ValueError) as error:  # unavailable, corrupt (ChecksumError), bad env
        raise CommandError(f"cannot load the {args.dataset} dataset: {error}") from error
    model, loss, metrics = _build_model(args.dataset, hidden, train[0])
    model.compile(loss=loss, optimizer=optimizer, metrics=metrics)
    history = model.fit(*train, epochs=epochs, batch_size=batch_size, validation_data=valid,
                        callbacks=_callbacks(out_dir, args.patience),
                        verbose=0 if args.quiet else 1)
    results = model.evaluate(*test, batch_size=batch_size, verbose=0, return_dict=True)
    results = {key: float(value) for key, value in results.items()}
    _write_history(history, out_dir)
    metrics_out = {"dataset": args.dataset, **_data_source(args.sample, fell_back),
                   "epochs_run": len(history.epoch),
                   "train_samples": int(len(train[0])), "test_samples": int(len(test[0])),
                   "test_loss": results.get("loss")}
    if args.dataset == "fashion-mnist":
        metrics_out["test_accuracy"] = results.get("accuracy")
    else:
        metrics_out["test_rmse"] = results.get("root_mean_squared_error",
                                               float(np.sqrt(results["loss"])))
    metrics_out["test_results"] = results
    metrics_out["config"] = {"epochs": epochs, "batch_size": batch_size,
                             "optimizer": optimizer_name, "learning_rate": learning_rate,
                             "hidden": hidden, "seed": args.seed, "limit": args.limit}
    with open(os.path.join(out_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(metrics_out, f, indent=2)
    if not args.no_plots:
        _write_figures(args.dataset, model, history, test, out_dir, args.shift_validation)
    model_path = os.path.join(out_dir, "model.keras")
    try:
        model.save(model_path)
    except Exception as error:
        raise CommandError(f"cannot save the model to {model_path!r}: {error}") from error
    key = "test_accuracy" if args.dataset == "fashion-mnist" else "test_rmse"
    print(f"{key}: {metrics_out[key]:.4f}")
    print(f"wrote {out_dir}")
    return 0


def _evaluation_data(args):
    data = args.data
    if data in _DATASETS:
        if args.labels:
            raise UsageError("argument --labels: not allowed with a dataset name in --data")
        try:
            if data == "fashion-mnist":
                return _load_fashion_mnist(sample=args.sample)[2]
            return _load_california_housing(sample=args.sample)[2]
        except (OSError, ValueError) as error:  # unavailable, corrupt (ChecksumError)
            raise CommandError(f"cannot load the {data} dataset: {error}") from error
    if not os.path.isfile(data):
        raise UsageError(f"argument --data: expected one of {', '.join(_DATASETS)} or an "
                         f"existing .npz/.npy/.csv file, got {data!r}")
    if data.lower().endswith(".npz"):
        try:
            arrays = np.load(data, allow_pickle=False)
            if not isinstance(arrays, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
        except Exception as error:  # OSError, ValueError, zipfile.BadZipFile
            raise UsageError(f"argument --data: cannot read {data!r} as an .npz file "
                             f"({error})") from error
        with arrays:
            if "x" not in arrays or "y" not in arrays:
                raise UsageError(f"argument --data: expected an .npz file with arrays 'x' and "
                                 f"'y', {data!r} holds {sorted(arrays.files)}")
            try:
                return arrays["x"], arrays["y"]
            except Exception as error:
                raise UsageError(f"argument --data: cannot read {data!r} as an .npz file "
                                 f"({error})") from error
    if not args.labels:
        raise UsageError("argument --labels: required with an .npy/.csv --data file "
                         "(expected the file of targets)")
    x = _read_array(data, "--data")
    y = _read_array(args.labels, "--labels")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if len(x) != len(y):
        raise UsageError(f"argument --labels: expected {len(x)} targets (one per row of "
                         f"--data), got {len(y)}")
    return x, y


def _cmd_evaluate(args):
    model = _load_model(args.model)
    x, y = _evaluation_data(args)
    x = _fit_input_shape(model, x)
    try:
        results = model.evaluate(x, y, batch_size=args.batch_size, verbose=0, return_dict=True)
    except Exception as error:
        raise CommandError(f"evaluation failed: {error}") from error
    results = {key: float(value) for key, value in results.items()}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key}: {value:.6g}")
    return 0


def _cmd_predict(args):
    if args.out and os.path.splitext(args.out)[1].lower() not in (".npy", ".csv"):
        raise UsageError(f"argument --out: expected a .npy or .csv file name, got {args.out!r}")
    if args.out:
        _check_output_file(args.out, "the predictions")
    model = _load_model(args.model)
    x = _fit_input_shape(model, _read_array(args.input, "INPUT"))
    try:
        predictions = np.asarray(model.predict(x, batch_size=args.batch_size, verbose=0))
    except Exception as error:
        raise CommandError(f"prediction failed: {error}") from error
    if args.classes:
        predictions = predictions.argmax(axis=-1)
    table = predictions.reshape(len(predictions), -1)
    fmt = "%d" if args.classes else "%.8g"
    if args.out:
        try:
            if args.out.lower().endswith(".npy"):
                np.save(args.out, predictions)
            else:
                np.savetxt(args.out, table, delimiter=",", fmt=fmt)
        except OSError as error:
            raise CommandError(f"cannot write the predictions to {args.out!r}: {error}") \
                from error
    else:
        np.savetxt(sys.stdout, table, delimiter=",", fmt=fmt)
    return 0


def _cmd_summary(args):
    model = _load_model(args.model)
    model.summary(line_length=args.line_length, show_trainable=args.show_trainable)
    return 0


def _cmd_plot(args):
    _check_output_file(args.to_file, "the plot")
    model = _load_model(args.model)
    from numnet.utils.model_plot import plot_model
    try:
        plot_model(model, to_file=args.to_file, show_shapes=args.show_shapes,
                   show_dtype=args.show_dtype, show_layer_names=args.show_layer_names,
                   rankdir=args.rankdir, expand_nested=args.expand_nested, dpi=args.dpi,
                   show_layer_activations=args.show_layer_activations,
                   show_trainable=args.show_trainable)
    except ValueError as error:
        raise UsageError(f"argument --to-file: {error}") from error
    except ImportError as error:
        raise CommandError(str(error)) from error
    print(f"wrote {args.to_file}")
    return 0


def _cmd_playground(args):
    if args.port > 65535:
        raise UsageError(f"argument --port: expected a port from 0 to 65535, got {args.port}")
    try:
        from numnet.playground.server import serve
    except ImportError as error:
        raise CommandError(str(error)) from error
    try:
        return serve(host=args.host, port=args.port, open_browser=args.open)
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise CommandError(f"cannot serve on {args.host}:{args.port}: {error}") from error



def _cmd_export(args):
    if args.opset is not None and args.format != "onnx":
        raise UsageError("argument --opset: only for --format onnx")
    model = _load_model(args.model)
    from numnet.export import ExportError, export_model
    options = {} if args.opset is None else {"opset_version": args.opset}
    try:
        export_model(model, args.out, format=args.format, verbose=True, **options)
    except (ExportError, ImportError, ValueError, OSError) as error:
        raise CommandError(f"cannot export {args.model!r}: {error}") from error
    return 0


_COMMANDS = {"train": _cmd_train, "evaluate": _cmd_evaluate, "predict": _cmd_predict,
             "summary": _cmd_summary, "plot": _cmd_plot, "playground": _cmd_playground,
             "export": _cmd_export}


def _cmd_serve(args):
    try:
        from numnet.serve.server import serve
        return serve(args.model, name=args.name, host=args.host, port=args.port,
                     max_batch_size=args.max_batch_size, batch_timeout_ms=args.batch_timeout_ms,
                     workers=args.workers, max_body_bytes=args.max_body_bytes,
                     allow_nan=args.allow_nan, threads=args.threads or None,
                     graceful_timeout=args.graceful_timeout,
                     log_level=args.log_level, access_log=args.access_log)
    except ImportError as error:
        raise CommandError(str(error)) from error
    except FileNotFoundError as error:
        raise UsageError(f"argument MODEL: {error}") from error
    except (ValueError, OSError, KeyError) as error:  # a layout or model that cannot be served
        raise CommandError(f"cannot serve {args.model!r}: {error}") from error
    except SystemExit as exit_:  # uvicorn could not start (port in use, ...)
        if not exit_.code:
            return 0
        raise CommandError(f"the server could not start on {args.host}:{args.port} (see the "
                           "message above)") from exit_


_COMMANDS["serve"] = _cmd_serve


def main(argv=None):
    """Runs the `numnet` command with `argv` (default `sys.argv[1:]`); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or an argparse usage error
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    subparser = args.parser
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            _check_dependencies(args)
            return _COMMANDS[args.command](args)
    except UsageError as error:
        subparser.print_usage(sys.stderr)
        print(f"{subparser.prog}: error: {error}", file=sys.stderr)
        return 2
    except CommandError as error:
        print(f"{subparser.prog}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `numnet summary model.keras | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # silence the flush at interpreter exit
        return 141
