"""`KerasClassifier` and `KerasRegressor`: scikit-learn estimators around a model-building function.

They follow SciKeras' conventions, so that code written for
`scikeras.wrappers` runs on numnet: the estimator stores its arguments
untouched (so `clone` and the model-selection tools work), and `fit` calls
the building function, compiles the model it returns (unless it is already
compiled) and trains it with `Model.fit`. Parameters are routed by prefix:

- `model__NAME` (or any extra keyword without a prefix) goes to the building
  function; it also gets `meta` (the fitted attributes: `n_features_in_`,
  `classes_`, `n_outputs_`...), `compile_kwargs` and `params` when its
  signature names them;
- `optimizer__NAME`, `loss__NAME`, `metrics__NAME`, `callbacks__NAME`
  instantiate those objects when they are given as a class or a name
  (`optimizer="sgd", optimizer__learning_rate=0.01` is `SGD(learning_rate=0.01)`);
  in lists and dicts, `loss__0__NAME` or `loss__out1__NAME` target one item,
  and a digit name (`callbacks__0=Schedule`) is a positional argument;
- `compile__NAME`, `fit__NAME`, `predict__NAME`, `score__NAME` go to
  `Model.compile`, `Model.fit`, `Model.predict` and the scorer
  (`fit__batch_size=32, predict__batch_size=1000`).

Every routed parameter is a parameter of the estimator, so GridSearchCV and
RandomizedSearchCV tune the layers, neurons, learning rate and batch size.

Where they differ from SciKeras: `X` must be dense and numeric, as for
scikit-learn's own estimators (SciKeras passes sparse matrices to
TensorFlow and converts strings); an optimizer given as an instance is
copied for each new model (a Keras 3 optimizer cannot serve two models);
routed parameters that cannot apply (`optimizer__learning_rate` with an
optimizer instance) raise an error instead of being ignored; a single class
in `y` is refused; `predict_proba` always returns a 2-D array.
"""

import contextlib
import inspect
import random
import warnings
from collections import defaultdict

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

import numnet
from numnet import backend, callbacks as callbacks_module, losses, metrics, optimizers

_FIT_KWARGS = frozenset({
    "batch_size", "epochs", "verbose", "validation_split", "shuffle", "class_weight",
    "initial_epoch", "validation_batch_size", "validation_freq", "validation_steps",
})
_PREDICT_KWARGS = frozenset({"batch_size", "verbose", "steps"})
_COMPILE_KWARGS = frozenset({
    "optimizer", "loss", "metrics", "loss_weights", "weighted_metrics", "run_eagerly",
})
_ROUTING_PREFIXES = frozenset({
    "model", "fit", "compile", "predict", "optimizer", "loss", "metrics", "callbacks", "score",
})
# Arguments the building function gets when its signature names them.
_SPECIAL_BUILD_ARGUMENTS = ("meta", "compile_kwargs", "params")


# ----------------------------------------------------------------- routing
def route(params, destination, names=(), nested=True):
    """The parameters for `destination`, prefix removed.

    `names` are taken as they are; `destination__NAME` gives `NAME` and
    overrides them. With `nested=False`, `destination__NAME__MORE` is left out.
    """
    out = {key: value for key, value in params.items() if key in names}
    prefix = destination + "__"
    for key, value in params.items():
        if key.startswith(prefix):
            rest = key[len(prefix):]
            if nested or "__" not in rest:
                out[rest] = value
    return out


def _own(params):
    """The parameters meant for the object itself, not routed further."""
    return {key: value for key, value in params.items() if "__" not in key}


def instantiate(item, params, resolve=None, what="object"):
    """`item` with its routed `params` applied, SciKeras' way.

    A class is called with the parameters (digit names are positional
    arguments; a parameter that is itself a class is instantiated with the
    parameters routed to it). A name is turned into a class by `resolve` when
    parameters are given. In a list or tuple, `N__NAME` targets item N and a
    plain `NAME` every item; in a dict, `KEY__NAME` targets one value. Other
    objects are returned as they are, and refuse parameters.
    """
    if isinstance(item, str) and resolve is not None and _own(params):
        item = resolve(item)
    if isinstance(item, type):
        arguments = {key: instantiate(value, route(params, key), what=f"{what}__{key}")
                     for key, value in _own(params).items()}
        positions = sorted((key for key in arguments if key.isdigit()), key=int)
        positional = [arguments.pop(key) for key in positions]
        return item(*positional, **arguments)
    if isinstance(item, (list, tuple, dict)):
        keys = range(len(item)) if not isinstance(item, dict) else list(item)
        shared = {key: value for key, value in _own(params).items()
                  if not (key.isdigit() or key in map(str, keys))}
        built = {key: instantiate(item[key], {**shared, **route(params, str(key))}, resolve,
                                  what=f"{what}__{key}") for key in keys}
        return built if isinstance(item, dict) else type(item)(built[key] for key in keys)
    if _own(params):
        raise ValueError(
            f"{what} got routed parameters {sorted(_own(params))} but is {item!r}, which "
            f"cannot take them: give {what} as a class or a name (e.g. {what}='sgd', "
            f"{what}__learning_rate=0.01) to have them applied.")
    return item


def _optimizer_class(name):
    return type(optimizers.get(name))


def _loss_class(name):
    return type(losses.as_loss_object(name))


def _metric_class(name):
    metric = metrics.get(name)
    if not isinstance(metric, metrics.Metric):
        raise ValueError(f"metrics={name!r} names a function, which takes no parameters; "
                         "give a metric class to route parameters to it.")
    return type(metric)


# -------------------------------------------------------------- random state
def _seed_of(random_state):
    """An integer seed for numnet from `random_state` (None stays None).

    A `RandomState` gives the same seed each time: a copy of it is drawn from.
    """
    if random_state is None:
        return None
    if isinstance(random_state, np.random.RandomState):
        copy = np.random.RandomState()
        copy.set_state(random_state.get_state())
        return int(copy.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    raise ValueError(f"random_state must be None, an int or a numpy RandomState; "
                     f"got {random_state!r}.")


@contextlib.contextmanager
def _seeded(seed):
    """Runs the block with numnet, `random` and `np.random` seeded, then restores them."""
    if seed is None:
        yield
        return
    saved = random.getstate(), np.random.get_state(), backend.global_generator().bit_generator.state
    numnet.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        backend.global_generator().bit_generator.state = saved[2]


def _signature(function):
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):  # some built-in callables have none
        return None


def _accepts(function, name, unknown=False):
    """Whether `function` takes a keyword argument `name` (or any, with **kwargs).

    `unknown` is the answer when the signature cannot be read.
    """
    signature = _signature(function)
    if signature is None:
        return unknown
    parameters = signature.parameters
    return name in parameters or any(p.kind == p.VAR_KEYWORD for p in parameters.values())


# ------------------------------------------------------------ target encoders
class ClassifierLabelEncoder(TransformerMixin, BaseEstimator):
    """Default target encoder of `KerasClassifier`: labels to what the model learns from.

    Binary and multiclass labels become class indices, a float32 column
    (one-hot rows when the loss is categorical cross-entropy); label
    indicator matrices (multilabel, one-hot) pass through as float32.
    `inverse_transform` turns the model's outputs back into labels, or with
    `return_proba=True` into an `(n_samples, n_classes)` probability matrix
    (a single sigmoid column `p` becomes `[1 - p, p]`).

    Parameters
    ----------
    loss : str, Loss, class or None, default=None
        The wrapper's loss, to detect categorical cross-entropy.
    categories : 'auto' or array-like, default='auto'
        All the classes ('auto': those in the `y` given to `fit`).
    """

    def __init__(self, loss=None, categories="auto"):
        self.loss = loss
        self.categories = categories

    def _one_hot(self):
        loss = self.loss
        if isinstance(loss, str):
            return loss in ("categorical_crossentropy", "CategoricalCrossentropy")
        if isinstance(loss, type):
            return issubclass(loss, losses.CategoricalCrossentropy)
        return (isinstance(loss, losses.CategoricalCrossentropy)
                or loss is losses.categorical_crossentropy)

    def fit(self, y):
        """Records the classes and the target type of `y`."""
        given = not (isinstance(self.categories, str) and self.categories == "auto")
        target_type = type_of_target(y)
        if given and target_type in ("binary", "multiclass"):
            target_type = type_of_target(np.asarray(self.categories))
        if target_type in ("binary", "multiclass"):
            self.classes_ = np.unique(np.asarray(self.categories) if given else y)
        elif target_type == "multilabel-indicator":
            self.classes_ = np.arange(y.shape[1])
            if y.min() == 0 and (y.sum(axis=1) == 1).all():
                target_type = "multiclass-onehot"
        else:
            raise ValueError(
                f"Unknown label type: {target_type!r}. KerasClassifier handles binary, "
                "multiclass and multilabel-indicator targets; override `target_encoder` "
                "to handle others.")
        if len(self.classes_) < 2:
            raise ValueError("KerasClassifier needs at least two classes; y has only one "
                             f"class: {self.classes_.tolist()}.")
        self.target_type_ = target_type
        self.n_classes_ = len(self.classes_)
        self.n_outputs_ = 1
        self.n_outputs_expected_ = 1
        self.y_shape_ = y.shape
        return self

    def transform(self, y):
        """Class indices (or one-hot rows, or the indicator matrix) as float32."""
        if self.target_type_ not in ("binary", "multiclass"):
            return np.asarray(y, dtype=np.float32)
        labels = np.asarray(y).reshape(-1)
        index = np.searchsorted(self.classes_, labels)
        index[index == len(self.classes_)] = 0
        unknown = self.classes_[index] != labels
        if unknown.any():
            raise ValueError(f"y contains labels that are not in classes_ "
                             f"{self.classes_.tolist()}: {np.unique(labels[unknown]).tolist()}.")
        if self._one_hot():
            return np.eye(self.n_classes_, dtype=np.float32)[index]
        return index.astype(np.float32).reshape(-1, 1)

    def inverse_transform(self, y, return_proba=False):
        """Labels (or probabilities) from the model's outputs `y`."""
        y = np.asarray(y)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if self.target_type_ == "binary" and y.shape[1] == 1:
            y = np.hstack([1 - y, y])
        if return_proba:
            return y
        if self.target_type_ == "multilabel-indicator":
            return np.round(y).astype(int)
        index = np.argmax(y, axis=1)
        if self.target_type_ == "multiclass-onehot":
            return np.eye(y.shape[1], dtype=int)[index]
        return self.classes_[index].reshape(-1, *self.y_shape_[1:])

    def get_metadata(self):
        """Fitted attributes the wrapper takes over (and passes in `meta`)."""
        return {"classes_": self.classes_, "n_classes_": self.n_classes_,
                "n_outputs_": self.n_outputs_, "n_outputs_expected_": self.n_outputs_expected_}


class RegressorTargetEncoder(TransformerMixin, BaseEstimator):
    """Default target encoder of `KerasRegressor`: checks the outputs, restores the shape.

    Predictions come back in the shape of the `y` given to `fit` and in its
    floating dtype (float64 for integer targets), as scikit-learn's
    regressors return them.
    """

    def fit(self, y):
        """Records the shape, dtype and number of outputs of `y`."""
        self.y_shape_ = y.shape
        self.y_dtype_ = y.dtype
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        self.n_outputs_expected_ = 1
        return self

    def transform(self, y):
        """`y` itself, after checking it has as many outputs as in `fit`."""
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if n_outputs != self.n_outputs_:
            raise ValueError(f"y has {n_outputs} outputs (shape {y.shape}) but this "
                             f"estimator was fitted on {self.n_outputs_}.")
        return y

    def inverse_transform(self, y):
        """The model's outputs in the shape and floating dtype of `y` at `fit`."""
        dtype = self.y_dtype_ if np.issubdtype(self.y_dtype_, np.floating) else np.float64
        return np.asarray(y).reshape(-1, *self.y_shape_[1:]).astype(dtype, copy=False)

    def get_metadata(self):
        """Fitted attributes the wrapper takes over (and passes in `meta`)."""
        return {"n_outputs_": self.n_outputs_, "n_outputs_expected_": self.n_outputs_expected_}


# ------------------------------------------------------------------ wrappers
_COMMON_PARAMS_DOC = """
    model : callable or numnet.Model, default=None
        The model-building function (called at each fresh `fit` with the
        routed parameters; it may compile the model itself, otherwise the
        wrapper compiles it with `optimizer`, `loss`, `metrics`), or a
        model instance used as it is. None: the subclass' `_keras_build_fn`.
    build_fn : callable, default=None
        Deprecated alias of `model` (SciKeras' older name).
    warm_start : bool, default=False
        Keep the model between calls to `fit` (the epochs restart at 0).
    random_state : int, RandomState instance or None, default=None
        Seeds numnet, `random` and `np.random` while the model is built and
        while it trains (each call), then restores them: the same seed gives
        the same fitted model.
    optimizer : str, Optimizer class or instance, default='rmsprop'
        A name or a class takes `optimizer__NAME` parameters; an instance is
        copied (from its config) for each new model.
    loss : str, Loss class or instance, callable, list or dict, default=None
        Takes `loss__NAME` parameters when given as a class or a name.
    metrics : list, dict, str, Metric class or instance, default=None
        Takes `metrics__NAME` parameters when given as classes.
    batch_size : int or None, default=None
        For `fit` and `predict` (None: Keras' 32; -1: all samples at once);
        `fit__batch_size` / `predict__batch_size` set one of them.
    validation_batch_size : int or None, default=None
        Batch size of the validation inside `fit`.
    verbose : int, default=1
        Keras' verbosity, for `fit` and `predict`.
    callbacks : list, dict, Callback class or instance, default=None
        numnet callbacks for `fit` and `predict` (classes are instantiated
        with `callbacks__NAME` for each fresh model); `fit__callbacks` and
        `predict__callbacks` go to one of them.
    validation_split : float, default=0.0
        Fraction of the training data held out for validation in `fit`.
    shuffle : bool, default=True
        Shuffle the training data before each epoch.
    run_eagerly : bool, default=False
        Passed to `Model.compile`.
    epochs : int, default=1
        Epochs per `fit` (`partial_fit` always runs one).
    **kwargs
        Further parameters: unprefixed ones go to the building function,
        prefixed ones are routed (see the module's documentation).
"""

_COMMON_ATTRIBUTES_DOC = """
    model_ : numnet.Model
        The built and compiled model.
    history_ : dict of lists
        Each epoch's loss and metrics from `Model.fit` (`partial_fit` appends).
    initialized_ : bool
        Whether the model exists (`predict` can run).
    n_features_in_ : int
        Number of features (the size of axis 1 of `X`).
    feature_names_in_ : ndarray
        Column names of `X` when it was a DataFrame with string names.
    X_shape_, X_dtype_ : tuple, dtype
        Shape and dtype of the `X` seen in the first `fit`.
    y_dtype_, y_ndim_ : dtype, int
        Dtype and number of dimensions of that `y`.
    target_type_ : str
        `sklearn.utils.multiclass.type_of_target` of that `y`.
    target_encoder_, feature_encoder_ : transformers
        The fitted encoders of `y` and `X`.
    n_outputs_, n_outputs_expected_ : int
        Outputs of `y`, and outputs the model must have.
"""


class _KerasWrapper(BaseEstimator):
    """The logic `KerasClassifier` and `KerasRegressor` share (SciKeras' `BaseWrapper`)."""

    _fit_kwargs = _FIT_KWARGS
    _predict_kwargs = _PREDICT_KWARGS
    _compile_kwargs = _COMPILE_KWARGS

    def __init__(self, model=None, *, build_fn=None, warm_start=False, random_state=None,
                 optimizer="rmsprop", loss=None, metrics=None, batch_size=None,
                 validation_batch_size=None, verbose=1, callbacks=None, validation_split=0.0,
                 shuffle=True, run_eagerly=False, epochs=1, **kwargs):
        self.model = model
        self.build_fn = build_fn
        self.warm_start = warm_start
        self.random_state = random_state
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.batch_size = batch_size
        self.validation_batch_size = validation_batch_size
        self.verbose = verbose
        self.callbacks = callbacks
        self.validation_split = validation_split
        self.shuffle = shuffle
        self.run_eagerly = run_eagerly
        self.epochs = epochs
        vars(self).update(kwargs)

    # ------------------------------------------------------------ parameters
    @classmethod
    def _signature_names(cls):
        return BaseEstimator._get_param_names.__func__(cls)

    def _get_param_names(self):
        """The constructor's parameters and the extra ones given since (SciKeras' rule)."""
        extra = (key for key in vars(self) if not key.startswith("_") and not key.endswith("_"))
        return sorted(set(self._signature_names()).union(extra))

    def set_params(self, **params):
        """Sets parameters; routed ones (`model__units`, `optimizer__learning_rate`...) may be new.

        Returns
        -------
        self : object
            The estimator.
        """
        for key in [key for key in params if key.partition("__")[0] in _ROUTING_PREFIXES
                    and "__" in key]:
            setattr(self, key, params.pop(key))
        try:
            return super().set_params(**params)
        except ValueError as error:
            name = type(self).__name__
            raise ValueError(f"{error} Extra parameters of {name} are set at construction "
                             f"(e.g. {name}(model=build_fn, n_hidden=2)) or routed to the "
                             "model-building function with the model__ prefix.") from None

    def _user_params(self):
        params = self.get_params(deep=False)
        fixed = set(self._signature_names())
        return params, {key: value for key, value in params.items() if key not in fixed}

    # --------------------------------------------------------- fitted state
    @property
    def initialized_(self):
        """Whether the model has been built (by `fit`, `partial_fit` or `initialize`)."""
        return hasattr(self, "model_")

    def __sklearn_is_fitted__(self):
        return self.initialized_

    @property
    def current_epoch(self):
        """Number of epochs the current model has been trained for."""
        return len(getattr(self, "history_", {}).get("loss", []))

    def _get_metadata(self):
        """The fitted attributes (`n_features_in_`, `classes_`...), for `meta`."""
        return {key: value for key, value in vars(self).items()
                if len(key) > 1 and key.endswith("_") and not key.endswith("__")
                and not key.startswith("_")}

    # ----------------------------------------------------------- the model
    def _model_building_function(self):
        model = self.model
        if model is None and self.build_fn is not None:
            warnings.warn("`build_fn` is deprecated; pass the function as `model`.",
                          FutureWarning, stacklevel=4)
            model = self.build_fn
        if model is None:
            if not hasattr(self, "_keras_build_fn"):
                raise ValueError(f"{type(self).__name__} needs `model`: a function that "
                                 "returns a numnet model (or a subclass' _keras_build_fn).")
            return self._keras_build_fn
        if isinstance(model, numnet.Model):
            return lambda: model
        if not callable(model):
            raise TypeError(f"`model` must be a model-building function or a numnet Model; "
                            f"got {model!r}.")
        return model

    def _build_arguments(self, build):
        params, user = self._user_params()
        arguments = {key: value for key, value in user.items() if "__" not in key}
        arguments.update(route(params, "model", nested=False))
        unknown = [key for key in arguments if not _accepts(build, key, unknown=True)]
        if unknown:
            raise ValueError(f"The model-building function {getattr(build, '__name__', build)}"
                             f"{_signature(build)} does not take {unknown}: routed there as "
                             "model__NAME or as extra parameters of the estimator.")
        special = {"meta": self._get_metadata, "compile_kwargs": self._get_compile_kwargs,
                   "params": lambda: self.get_params(deep=False)}
        for name in _SPECIAL_BUILD_ARGUMENTS:
            if _accepts(build, name) and name not in arguments:
                arguments[name] = special[name]()
        return arguments

    def _build_keras_model(self):
        build = self._model_building_function()
        arguments = self._build_arguments(build)
        with _seeded(self._seed):
            model = build(**arguments)
        if not isinstance(model, numnet.Model):
            raise TypeError(f"The model-building function must return a numnet Model; it "
                            f"returned {type(model).__name__}.")
        return model

    def _get_compile_kwargs(self):
        """`Model.compile`'s arguments, with optimizer, loss and metrics instantiated."""
        params = self.get_params(deep=False)
        kwargs = route(params, "compile", names=self._compile_kwargs)
        optimizer = kwargs.get("optimizer")
        if isinstance(optimizer, optimizers.Optimizer):
            # A fresh copy per model: an optimizer is tied to the variables it was built on.
            kwargs["optimizer"] = type(optimizer).from_config(optimizer.get_config())
        kwargs["optimizer"] = instantiate(kwargs["optimizer"], route(params, "optimizer"),
                                          _optimizer_class, "optimizer")
        kwargs["loss"] = instantiate(kwargs.get("loss"), route(params, "loss"), _loss_class,
                                     "loss")
        found = instantiate(kwargs.get("metrics"), route(params, "metrics"), _metric_class,
                            "metrics")
        kwargs["metrics"] = found if found is None or isinstance(found, (list, dict)) else [found]
        return kwargs

    def _ensure_compiled_model(self):
        if not self.model_.compiled:
            self.model_.compile(**self._get_compile_kwargs())
        custom_step = type(self.model_).train_step is not numnet.Model.train_step
        if self.model_.loss is None and not custom_step:
            raise ValueError(f"No loss to train with: pass loss=... to {type(self).__name__} "
                             "or compile the model inside the model-building function.")

    def _initialize_callbacks(self):
        params = self.get_params(deep=False)

        def build(name):
            if params.get(name) is None:
                return []
            made = instantiate(params[name], route(params, name), what=name)
            made = list(made.values()) if isinstance(made, dict) else made
            made = list(made) if isinstance(made, (list, tuple)) else [made]
            for callback in made:
                if not isinstance(callback, callbacks_module.Callback):
                    raise TypeError(f"{name} must hold numnet callbacks (instances or "
                                    f"classes); got {callback!r}.")
            return made

        shared = build("callbacks")
        self._fit_callbacks = shared + build("fit__callbacks")
        self._predict_callbacks = shared + build("predict__callbacks")

    # ---------------------------------------------------------------- data
    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        """Checks `X` (any rank >= 2, numeric) and `y`; records or compares their metadata."""
        if X is not None:
            if y is None and not reset:
                X = validate_data(self, X, reset=False, allow_nd=True)
            else:
                X, y = validate_data(self, X, y, reset=reset, allow_nd=True, multi_output=True,
                                     y_numeric=y_numeric)
            if reset:
                self.X_shape_, self.X_dtype_ = X.shape, X.dtype
            elif X.shape[1:] != self.X_shape_[1:]:
                raise ValueError(f"X has samples of shape {X.shape[1:]}, but "
                                 f"{type(self).__name__} was fitted on samples of shape "
                                 f"{self.X_shape_[1:]}.")
        elif y is not None:
            y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if y is not None:
            if y_numeric and y.dtype.kind in "USa":
                raise ValueError(f"{type(self).__name__} needs numeric targets, got y of dtype "
                                 f"{y.dtype}. Convert y to numbers first.")
            if reset:
                self.y_dtype_, self.y_ndim_ = y.dtype, y.ndim
                self.target_type_ = self._type_of_target(y)
            elif y.ndim != self.y_ndim_:
                raise ValueError(f"y has {y.ndim} dimensions, but {type(self).__name__} was "
                                 f"fitted on y with {self.y_ndim_}.")
        return X, y

    def _type_of_target(self, y):
        return type_of_target(y)

    def _validate_sample_weight(self, X, y, sample_weight):
        """Checked weights; samples of weight 0 are dropped (Keras would still count them)."""
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float32)
        keep = sample_weight != 0
        if not keep.all():
            X, y, sample_weight = X[keep], y[keep], sample_weight[keep]
        return X, y, sample_weight

    @property
    def feature_encoder(self):
        """Unfitted transformer of `X` into the model's inputs (override to customize)."""
        return FunctionTransformer()

    def _check_model_compatibility(self, y):
        """Clear errors for a model whose outputs cannot match the encoded `y`."""
        names = getattr(self.model_, "output_names", None)
        expected = getattr(self, "n_outputs_expected_", None)
        if expected and names is not None and len(names) != expected:
            raise ValueError(f"The model has {len(names)} outputs {list(names)} but the "
                             f"target encoder produces {expected}.")
        try:
            shape = self.model_.output_shape
        except (AttributeError, ValueError):
            return
        if (isinstance(shape, tuple) and len(shape) == 2 and shape[-1] is not None
                and isinstance(y, np.ndarray)):
            self._check_output_width(shape[-1], y)

    def _check_output_width(self, units, y):
        width = 1 if y.ndim == 1 else y.shape[1]
        if units != width:
            raise ValueError(f"The model's output has {units} units but y has {width} "
                             f"outputs per sample (y of shape {y.shape}).")

    # ------------------------------------------------------------- fitting
    def _initialize(self, X, y=None):
        self._seed = _seed_of(self.random_state)
        X, y = self._validate_data(X, y, reset=True)
        self.target_encoder_ = self.target_encoder.fit(y)
        vars(self).update(getattr(self.target_encoder_, "get_metadata", dict)())
        self.feature_encoder_ = self.feature_encoder.fit(X)
        vars(self).update(getattr(self.feature_encoder_, "get_metadata", dict)())
        self.model_ = self._build_keras_model()
        self._initialize_callbacks()
        return X, y

    def initialize(self, X, y=None):
        """Builds the model without training it (e.g. to predict with a pretrained model).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features, ...)
            Sample inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Sample targets.

        Returns
        -------
        self : object
            The estimator.
        """
        self._initialize(X, y)
        return self

    def _fit(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        if warm_start and self.initialized_:
            X, y = self._validate_data(X, y)
        else:
            X, y = self._initialize(X, y)
        self._ensure_compiled_model()
        if sample_weight is not None:
            X, y, sample_weight = self._validate_sample_weight(X, y, sample_weight)
        n_samples = X.shape[0]
        y = self.target_encoder_.transform(y)
        X = self.feature_encoder_.transform(X)
        self._check_model_compatibility(y)
        fit_args = route(self.get_params(deep=False), "fit", names=self._fit_kwargs,
                         nested=False)
        fit_args = {key: value for key, value in fit_args.items()
                    if not key.startswith("callbacks")}
        fit_args.update(sample_weight=sample_weight, epochs=initial_epoch + epochs,
                        initial_epoch=initial_epoch, **kwargs)
        for key in ("batch_size", "validation_batch_size"):
            if fit_args.get(key) == -1:
                fit_args[key] = n_samples  # SciKeras' "all samples in one batch"
        self._fit_keras_model(X, y, warm_start, fit_args)

    def _fit_keras_model(self, X, y, warm_start, fit_args):
        fit_args["callbacks"] = self._fit_callbacks
        with _seeded(self._seed):
            history = self.model_.fit(X, y, **fit_args)
        if not warm_start or not hasattr(self, "history_") or fit_args["initial_epoch"] == 0:
            self.history_ = defaultdict(list)
        for key, values in (history.history if history is not None else {}).items():
            self.history_[key] += list(values)

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Builds a new model (unless `warm_start`) and trains it for `epochs` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features, ...)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss.
        **kwargs : dict
            Further arguments of `Model.fit` (prefer `fit__NAME` parameters).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        kwargs.setdefault("epochs", getattr(self, "fit__epochs", self.epochs))
        kwargs.setdefault("initial_epoch", 0)
        self._fit(X, y, sample_weight=sample_weight, warm_start=self.warm_start, **kwargs)
        return self

    def _partial_fit(self, X, y, sample_weight, kwargs):
        for name in ("epochs", "initial_epoch"):
            if name in kwargs:
                raise TypeError(f"partial_fit takes no `{name}`: it trains one epoch, from "
                                "the current one.")
        self._fit(X, y, sample_weight=sample_weight, warm_start=True, epochs=1,
                  initial_epoch=self.current_epoch, **kwargs)
        return self

    # ----------------------------------------------------------- predicting
    def _predict_raw(self, X, **kwargs):
        check_is_fitted(self)
        X, _ = self._validate_data(X)
        n_samples = X.shape[0]
        X = self.feature_encoder_.transform(X)
        args = route(self.get_params(deep=False), "predict", names=self._predict_kwargs,
                     nested=False)
        args = {key: value for key, value in args.items() if not key.startswith("callbacks")}
        args["callbacks"] = self._predict_callbacks
        args.update(kwargs)
        if args.get("batch_size") == -1:
            args["batch_size"] = n_samples
        return self.model_.predict(X, **args)

    def predict(self, X, **kwargs):
        """Predictions of the model, decoded by the target encoder.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features, ...)
            Inputs.
        **kwargs : dict
            Further arguments of `Model.predict` (prefer `predict__NAME`).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted labels or values.
        """
        raw = self._predict_raw(X, **kwargs)
        return self.target_encoder_.inverse_transform(raw)

    def score(self, X, y, sample_weight=None):
        """The scorer (accuracy or R^2) of `predict(X)` against `y`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features, ...)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True labels or values.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples.

        Returns
        -------
        score : float
            `scorer(y, predict(X), sample_weight=..., **score__params)`.
        """
        _, y = self._validate_data(y=y)
        score_args = route(self.get_params(deep=False), "score")
        return self.scorer(y, self.predict(X), sample_weight=sample_weight, **score_args)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.target_tags.multi_output = True
        return tags


def _poor_score(tags, kind):
    # SciKeras' tag: with `epochs=1` by default, a model may fit poorly.
    getattr(tags, kind).poor_score = True
    return tags


class KerasClassifier(ClassifierMixin, _KerasWrapper):
    __doc__ = """scikit-learn classifier around a numnet (Keras-style) model-building function.

    SciKeras' `KerasClassifier` on numnet. Labels of any type are encoded
    for the model (class indices, or one-hot rows with a categorical
    cross-entropy loss; indicator matrices pass through) and decoded again
    by `predict`; `predict_proba` returns one column per class.

    Parameters
    ----------""" + _COMMON_PARAMS_DOC + """\
    class_weight : dict, 'balanced' or None, default=None
        Class weights, applied as sample weights.

    Attributes
    ----------""" + _COMMON_ATTRIBUTES_DOC + """    classes_ : ndarray
        The class labels.
    n_classes_ : int
        Number of classes.

    Examples
    --------
    >>> import numnet as keras
    >>> from numnet.sklearn import KerasClassifier
    >>> def build(meta, units=8):
    ...     return keras.Sequential([keras.layers.Input((meta["n_features_in_"],)),
    ...                              keras.layers.Dense(units, activation="relu"),
    ...                              keras.layers.Dense(meta["n_classes_"], activation="softmax")])
    >>> clf = KerasClassifier(build, loss="sparse_categorical_crossentropy", epochs=2,
    ...                       verbose=0, random_state=0, model__units=4)
    >>> clf.fit([[0, 0], [0, 1], [1, 0], [1, 1]], ["a", "b", "b", "c"]).predict([[1, 1]]).shape
    (1,)
    """

    _fit_kwargs = _FIT_KWARGS - {"class_weight"}

    def __init__(self, model=None, *, build_fn=None, warm_start=False, random_state=None,
                 optimizer="rmsprop", loss=None, metrics=None, batch_size=None,
                 validation_batch_size=None, verbose=1, callbacks=None, validation_split=0.0,
                 shuffle=True, run_eagerly=False, epochs=1, class_weight=None, **kwargs):
        super().__init__(model=model, build_fn=build_fn, warm_start=warm_start,
                         random_state=random_state, optimizer=optimizer, loss=loss,
                         metrics=metrics, batch_size=batch_size,
                         validation_batch_size=validation_batch_size, verbose=verbose,
                         callbacks=callbacks, validation_split=validation_split, shuffle=shuffle,
                         run_eagerly=run_eagerly, epochs=epochs, **kwargs)
        self.class_weight = class_weight

    @staticmethod
    def scorer(y_true, y_pred, **kwargs):
        """Accuracy (override to change `score`)."""
        return accuracy_score(y_true, y_pred, **kwargs)

    score = _KerasWrapper.score  # not ClassifierMixin's: it routes score__ parameters

    @property
    def target_encoder(self):
        """Unfitted encoder of the labels (override to customize)."""
        classes = getattr(self, "_classes_hint", None)
        return ClassifierLabelEncoder(loss=self.loss,
                                      categories="auto" if classes is None else classes)

    def _type_of_target(self, y):
        classes = getattr(self, "_classes_hint", None)
        target_type = type_of_target(y)
        if target_type == "binary" and classes is not None:
            target_type = type_of_target(np.asarray(classes))
        return target_type

    def _class_weighted(self, y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        weights = compute_sample_weight(class_weight=self.class_weight, y=y)
        return weights if sample_weight is None else np.asarray(sample_weight) * weights

    def _check_output_width(self, units, y):
        if self.target_type_ in ("binary", "multiclass") and y.shape[1] == 1:
            allowed = (1, 2) if self.n_classes_ == 2 else (self.n_classes_,)
            if units not in allowed:
                raise ValueError(f"The model's output has {units} units but y has "
                                 f"{self.n_classes_} classes: give it "
                                 f"{' or '.join(map(str, allowed))} units.")
            return
        super()._check_output_width(units, y)

    def fit(self, X, y, sample_weight=None, **kwargs):
        self._classes_hint = None
        return super().fit(X, y, sample_weight=self._class_weighted(y, sample_weight), **kwargs)

    fit.__doc__ = _KerasWrapper.fit.__doc__

    def partial_fit(self, X, y, classes=None, sample_weight=None, **kwargs):
        """Trains one more epoch on `(X, y)`, building the model on the first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features, ...)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Labels.
        classes : array-like, default=None
            All the classes, on the first call (default: those in `y`).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples.
        **kwargs : dict
            Further arguments of `Model.fit`.

        Returns
        -------
        self : object
            The estimator.
        """
        if not self.initialized_:
            self._classes_hint = None if classes is None else np.asarray(classes)
        return self._partial_fit(X, y, self._class_weighted(y, sample_weight), kwargs)

    def predict_proba(self, X, **kwargs):
        """Class probabilities, one column per class of `classes_`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features, ...)
            Inputs.
        **kwargs : dict
            Further arguments of `Model.predict`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            The model's outputs (a single sigmoid column `p` as `[1 - p, p]`).
        """
        raw = self._predict_raw(X, **kwargs)
        return self.target_encoder_.inverse_transform(raw, return_proba=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return _poor_score(tags, "classifier_tags")


class KerasRegressor(RegressorMixin, _KerasWrapper):
    __doc__ = """scikit-learn regressor around a numnet (Keras-style) model-building function.

    SciKeras' `KerasRegressor` on numnet: numeric targets of one or several
    outputs; predictions come back in the shape of `y` and in its floating
    dtype (float64 for integer targets).

    Parameters
    ----------""" + _COMMON_PARAMS_DOC + """
    Attributes
    ----------""" + _COMMON_ATTRIBUTES_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> import numnet as keras
    >>> from numnet.sklearn import KerasRegressor
    >>> def build(meta, n_hidden=1, n_neurons=8):
    ...     model = keras.Sequential([keras.layers.Input((meta["n_features_in_"],))])
    ...     for _ in range(n_hidden):
    ...         model.add(keras.layers.Dense(n_neurons, activation="relu"))
    ...     model.add(keras.layers.Dense(1))
    ...     return model
    >>> reg = KerasRegressor(build, loss="mse", optimizer="sgd", optimizer__learning_rate=0.01,
    ...                      model__n_hidden=2, epochs=3, verbose=0, random_state=0)
    >>> X = np.linspace(0, 1, 40).reshape(-1, 1)
    >>> reg.fit(X, 2 * X.ravel()).predict(X[:3]).shape
    (3,)
    """

    @staticmethod
    def scorer(y_true, y_pred, **kwargs):
        """R^2 (override to change `score`)."""
        return r2_score(y_true, y_pred, **kwargs)

    score = _KerasWrapper.score  # not RegressorMixin's: it routes score__ parameters

    @property
    def target_encoder(self):
        """Unfitted encoder of the targets (override to customize)."""
        return RegressorTargetEncoder()

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=True):
        return super()._validate_data(X, y, reset=reset, y_numeric=y_numeric)

    def partial_fit(self, X, y, sample_weight=None, **kwargs):
        """Trains one more epoch on `(X, y)`, building the model on the first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features, ...)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples.
        **kwargs : dict
            Further arguments of `Model.fit`.

        Returns
        -------
        self : object
            The estimator.
        """
        return self._partial_fit(X, y, sample_weight, kwargs)

    def __sklearn_tags__(self):
        return _poor_score(super().__sklearn_tags__(), "regressor_tags")
