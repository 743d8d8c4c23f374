"""`MLPClassifier` and `MLPRegressor`: scikit-learn's estimators on numnet's core."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from numnet.sklearn import _core

# Sparse formats taken as they are, as in scikit-learn (others are converted to CSR).
_SPARSE_FORMATS = ["csr", "csc"]

_KERAS_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh",
                      "relu": "relu", "softmax": "softmax", "exp": "exponential"}


class _Batches:
    """The mini-batches of one pass, in scikit-learn's order.

    Without shuffling, consecutive slices; with it, the rows of a permutation drawn
    as `sklearn.utils.shuffle` draws it, gathered into preallocated buffers (the
    input rows straight into the network's input buffer `x_buffer`, when given).
    """

    def __init__(self, X, y, sample_weight, batch_size, x_buffer, dtype):
        self.X, self.y, self.sample_weight, self.batch_size = X, y, sample_weight, batch_size
        self.n_samples = X.shape[0]
        self.order = np.arange(self.n_samples)
        self.shuffled = False
        self.x_buffer = x_buffer
        # Shuffled targets and weights are gathered in the inputs' float dtype.
        self.y_buffer = np.empty((batch_size, y.shape[1]), dtype)
        self.sw_buffer = None if sample_weight is None else np.empty(batch_size, dtype)

    def shuffle(self, random_state):
        """scikit-learn's utils.shuffle: one permutation from the same stream, each pass."""
        self.order = self.order[random_state.permutation(self.n_samples)]
        self.shuffled = True

    def __iter__(self):
        sw = self.sample_weight
        for start in range(0, self.n_samples, self.batch_size):
            stop = min(start + self.batch_size, self.n_samples)
            if not self.shuffled:
                yield (self.X[start:stop], self.y[start:stop],
                       None if sw is None else sw[start:stop])
                continue
            # The rows of a permutation: "clip" spares NumPy's buffered bounds check.
            m, idx = stop - start, self.order[start:stop]
            xb = self.X[idx] if self.x_buffer is None else \
                np.take(self.X, idx, axis=0, out=self.x_buffer[:m], mode="clip")
            yield (xb, np.take(self.y, idx, axis=0, out=self.y_buffer[:m], mode="clip"),
                   None if sw is None else np.take(sw, idx, out=self.sw_buffer[:m],
                                                   mode="clip"))


class _BaseMLP(BaseEstimator):
    """Shared fitting logic of `MLPClassifier` and `MLPRegressor`."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "callbacks": [list, None],
    }

    def __init__(self, *, hidden_layer_sizes, activation, solver, alpha, batch_size,
                 learning_rate, learning_rate_init, power_t, max_iter, shuffle, random_state,
                 tol, verbose, warm_start, momentum, nesterovs_momentum, early_stopping,
                 validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun,
                 callbacks):
        # The subclasses' signatures carry the defaults (scikit-learn reads them there).
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.callbacks = callbacks

    # ------------------------------------------------------------ helpers
    def _loss_name(self):
        if not is_classifier(self):
            return self.loss
        return "binary_log_loss" if self.out_activation_ == "logistic" else "log_loss"

    def _forward(self, X):
        return _core.forward(X, self.coefs_, self.intercepts_, self.activation,
                             self.out_activation_)

    def _forward_pass_fast(self, X, check_input=True):
        if check_input:
            # scikit-learn's dtype="numeric": strings are refused here (fit converts them).
            X = validate_data(self, X, reset=False, accept_sparse=_SPARSE_FORMATS)
        return self._forward(X)

    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        factor = 2.0 if self.activation == "logistic" else 6.0
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            # Same draws, in the same order, as scikit-learn.
            w = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            b = self._random_state.uniform(-bound, bound, fan_out)
            self.coefs_.append(w.astype(dtype, copy=False))
            self.intercepts_.append(b.astype(dtype, copy=False))
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]
        if self.solver != "lbfgs":
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        if any(h <= 0 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        y = np.asarray(y, dtype=X.dtype)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if not first_pass and y.shape[1] != self.n_outputs_:
            raise ValueError(f"Expected {self.n_outputs_} outputs, got {y.shape[1]}.")
        layer_units = [X.shape[1]] + hidden + [y.shape[1]]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        elif [w.shape for w in self.coefs_] != list(zip(layer_units[:-1], layer_units[1:])):
            raise ValueError("The network's shape changed since the last fit; "
                             "use warm_start=False to start over.")
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, y, sample_weight)
        else:
            self._fit_stochastic(X, y, sample_weight, incremental)
        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError("Solver produced non-finite parameter weights. The input data may"
                             " contain large values and need to be preprocessed.")
        return self

    def _fit_lbfgs(self, X, y, sample_weight):
        from scipy.optimize import minimize

        shapes = [w.shape for w in self.coefs_] + [b.shape for b in self.intercepts_]
        sizes = [int(np.prod(s)) for s in shapes]
        offsets = np.cumsum([0] + sizes)
        params = [np.empty(s, X.dtype) for s in shapes]
        n = len(self.coefs_)
        net = _core.Network(params[:n], params[n:], X.shape[0], self.activation,
                            self.out_activation_, self.alpha, self._loss_name(),
                            input_buffer=False)

        def unpack(flat):
            for p, lo, hi, shape in zip(params, offsets[:-1], offsets[1:], shapes):
                p[...] = flat[lo:hi].reshape(shape)

        def loss_grad(flat):
            unpack(flat)
            loss = net.backprop(X, y, sample_weight)
            grad = np.concatenate([g.ravel() for g in net.coef_grads + net.intercept_grads])
            return loss, grad

        x0 = np.concatenate([p.ravel() for p in self.coefs_ + self.intercepts_])
        iprint = 1 if self.verbose is True else (self.verbose if self.verbose > 0 else -1)
        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        if iprint > 0:
            options["disp"] = True
        result = minimize(loss_grad, x0, method="L-BFGS-B", jac=True, options=options)
        self.n_iter_ = int(result.nit)
        if result.status != 0 and self.n_iter_ >= self.max_iter or result.status == 1:
            warnings.warn("lbfgs failed to converge (status=%d):\n%s." % (result.status,
                          result.message), ConvergenceWarning)
        self.loss_ = float(result.fun)
        unpack(result.x)
        self.coefs_ = [p.copy() for p in params[:n]]
        self.intercepts_ = [p.copy() for p in params[n:]]

    def _fit_stochastic(self, X, y, sample_weight, incremental):
        """scikit-learn's mini-batch loop (SGD or Adam), on numnet's float64 kernels."""
        self._pack_parameters(X.dtype, incremental)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            X_train, y_train, sw_train, validation = self._validation_split(X, y, sample_weight)
        else:
            X_train, y_train, sw_train, validation = X, y, sample_weight, (None, None, None)
        # Sparse input is batched by rows: CSR slices rows cheaply (CSC would not).
        sparse_input = sp.issparse(X_train)
        X_train = X_train.tocsr() if sparse_input else np.ascontiguousarray(X_train)
        batch_size = self._stochastic_batch_size(X_train.shape[0])
        net = _core.Network(self.coefs_, self.intercepts_, batch_size, self.activation,
                            self.out_activation_, self.alpha, self._loss_name(),
                            input_buffer=not sparse_input)
        batches = _Batches(X_train, y_train, sw_train, batch_size,
                           None if sparse_input else net.acts[0], X.dtype)
        callbacks = list(self.callbacks or [])
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin({})
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    batches.shuffle(self._random_state)
                accumulated = 0.0
                for xb, yb, swb in batches:
                    accumulated += net.backprop(xb, yb, swb) * len(yb)
                    self._optimizer.update(net.flat_grad)
                if self._end_iteration(accumulated, batches.n_samples, validation, callbacks,
                                       incremental):
                    break
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        for cb in callbacks:
            cb.on_train_end({"loss": self.loss_})
        del self.stop_training
        if early_stopping:
            # Restore the best weights, in place so the optimizer keeps its references.
            for p, best in zip(self.coefs_ + self.intercepts_,
                               self._best_coefs + self._best_intercepts):
                p[...] = best

    def _pack_parameters(self, dtype, incremental):
        """Puts the weights in one buffer (`coefs_` and `intercepts_` become its views), so
        that each optimizer step is a handful of NumPy calls over all parameters."""
        n = len(self.coefs_)
        arrays = self.coefs_ + self.intercepts_
        params, views = _core.flat_views([a.shape for a in arrays], dtype)
        for view, a in zip(views, arrays):
            view[...] = a
        self.coefs_, self.intercepts_ = views[:n], views[n:]
        if not incremental or not hasattr(self, "_optimizer"):
            if self.solver == "sgd":
                self._optimizer = _core.SGD(params, self.learning_rate_init, self.learning_rate,
                                            self.momentum, self.nesterovs_momentum, self.power_t)
            else:
                self._optimizer = _core.Adam(params, self.learning_rate_init, self.beta_1,
                                             self.beta_2, self.epsilon)
        else:
            self._optimizer.params = params

    def _validation_split(self, X, y, sample_weight):
        """(X_train, y_train, sw_train, (X_val, y_val, sw_val)) for early stopping.

        Stratified on the binarized labels as booleans, as scikit-learn does, so a class too
        small to split is reported the same way ('True').
        """
        stratify = y.astype(bool) if (is_classifier(self) and self.n_outputs_ == 1) else None
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        split = train_test_split(*arrays, random_state=self._random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        X_train, X_val, y_train, y_val = split[:4]
        sw_train, sw_val = split[4:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        if is_classifier(self):
            y_val = self._label_binarizer.inverse_transform(
                y_val.ravel() if y_val.shape[1] == 1 else y_val)
        return X_train, y_train, sw_train, (X_val, y_val, sw_val)

    def _stochastic_batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than "
                          "sample size. It is going to be clipped")
        return int(np.clip(self.batch_size, 1, n_samples))

    def _end_iteration(self, accumulated, n_samples, validation, callbacks, incremental):
        """The bookkeeping after one pass over the data; True when training should stop."""
        early_stopping = validation[0] is not None
        self.n_iter_ += 1
        self.loss_ = accumulated / n_samples
        self.t_ += n_samples
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
        self._update_no_improvement_count(early_stopping, *validation)
        self._optimizer.iteration_ends(self.t_)
        logs = {"loss": self.loss_}
        if early_stopping:
            logs["val_score"] = self.validation_scores_[-1]
        for cb in callbacks:
            cb.on_epoch_end(self.n_iter_ - 1, logs)
        if self._no_improvement_count > self.n_iter_no_change:
            what = "Validation score" if early_stopping else "Training loss"
            msg = ("%s did not improve more than tol=%f for %d consecutive epochs."
                   % (what, self.tol, self.n_iter_no_change))
            if self._optimizer.trigger_stopping(msg, self.verbose):
                return True
            self._no_improvement_count = 0
        if incremental or self.stop_training:
            return True
        if self.n_iter_ == self.max_iter:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and "
                          "the optimization hasn't converged yet." % self.max_iter,
                          ConvergenceWarning)
        return False

    def _update_no_improvement_count(self, early_stopping, X_val, y_val, sw_val):
        if early_stopping:
            score = self._score(X_val, y_val, sample_weight=sw_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_coefs = [c.copy() for c in self.coefs_]
                self._best_intercepts = [b.copy() for b in self.intercepts_]
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return float(score_function(y, y_pred, sample_weight=sample_weight))

    def _check_solver(self):
        if self.solver == "lbfgs":
            raise AttributeError("partial_fit is only available for stochastic optimizers. "
                                 "lbfgs is not stochastic.")
        return True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in
            regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The trained model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    # ------------------------------------------------------ numnet extras
    def to_keras(self):
        """The trained network as an equivalent `numnet.Sequential` model.

        Returns
        -------
        model : numnet.Sequential
            `Input -> Dense(...)` layers holding copies of `coefs_` and
            `intercepts_`, in their dtype; `model.predict(X)` equals
            `predict_proba(X)` (classifier; for two classes, its one sigmoid
            column is `predict_proba(X)[:, 1:]`) or `predict(X)` (regressor, 2-D).
        """
        check_is_fitted(self)
        import numnet

        dtype = str(self.coefs_[0].dtype)
        layers = [numnet.layers.Input((self.coefs_[0].shape[0],), dtype=dtype)]
        for i, (w, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            name = self.out_activation_ if i == len(self.coefs_) - 1 else self.activation
            dense = numnet.layers.Dense(w.shape[1], activation=_KERAS_ACTIVATIONS[name],
                                        dtype=dtype)
            layers.append(dense)
        model = numnet.Sequential(layers)
        for dense, w, b in zip(model.layers, self.coefs_, self.intercepts_):
            dense.set_weights([w, b])
        return model

    def save(self, filepath, **kwargs):
        """Saves `to_keras()` through numnet's Keras saving (`.keras` format).

        Parameters
        ----------
        filepath : str or path-like
            Where to write the model.
        **kwargs : dict
            Passed on to `numnet.Model.save`.
        """
        self.to_keras().save(filepath, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_COMMON_PARAMS_DOC = """
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Activation function of the hidden layers.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        The weight optimizer: scikit-learn's SGD (with momentum) and Adam
        update rules, or SciPy's L-BFGS-B on the full batch.
    alpha : float, default=0.0001
        Strength of the L2 penalty, divided by the batch's sample weight.
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' means ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Learning-rate schedule of ``solver='sgd'``.
    learning_rate_init : float, default=0.001
        The initial learning rate (sgd and adam).
    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.
    max_iter : int, default=200
        Maximum number of epochs (or of L-BFGS iterations).
    shuffle : bool, default=True
        Whether to shuffle the samples at each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the shuffles and the validation split; the draws
        are scikit-learn's, in the same order.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.
    verbose : bool, default=False
        Print progress messages.
    warm_start : bool, default=False
        Reuse the previous solution as initialization.
    momentum : float, default=0.9
        Momentum of ``solver='sgd'``.
    nesterovs_momentum : bool, default=True
        Whether to use Nesterov's momentum (sgd).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score does
        not improve, and restore the best weights.
    validation_fraction : float, default=0.1
        Proportion held out with ``early_stopping``.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    epsilon : float, default=1e-8
        Adam's numerical stability term.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    max_fun : int, default=15000
        Maximum number of loss evaluations (lbfgs).
    callbacks : list of numnet callbacks, default=None
        numnet extension (off by default): objects whose ``on_train_begin``,
        ``on_epoch_end(epoch, logs)`` and ``on_train_end`` are called during
        a stochastic fit, with ``logs={"loss": ..., "val_score": ...}``. A
        callback may set ``estimator.stop_training = True`` (its
        ``model`` is not set).
"""

_ATTRIBUTES_DOC = """
    loss_ : float
        The loss at the last epoch.
    best_loss_ : float or None
        The minimum training loss (None with ``early_stopping``).
    loss_curve_ : list of float
        The loss at each epoch (stochastic solvers).
    validation_scores_ : list of float or None
        Validation score at each epoch with ``early_stopping``.
    best_validation_score_ : float or None
        Best validation score with ``early_stopping``.
    t_ : int
        Number of training samples seen.
    coefs_ : list of ndarray of shape (n_fan_in, n_fan_out)
        Weight matrices, one per layer.
    intercepts_ : list of ndarray of shape (n_fan_out,)
        Bias vectors, one per layer.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit (string column names only).
    n_iter_ : int
        Number of epochs (iterations) run.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Name of the output activation.
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = """Multi-layer perceptron classifier (scikit-learn compatible).

    Optimizes the log loss with scikit-learn's own algorithm, on numnet's
    in-place NumPy core: softmax outputs for multiclass targets, logistic
    outputs for binary and multilabel (indicator matrix) targets. Computes in
    float64 unless ``X`` is float32.

    Parameters
    ----------""" + _COMMON_PARAMS_DOC + """
    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        The class labels.""" + _ATTRIBUTES_DOC + """
    See Also
    --------
    MLPRegressor : The regressor.
    Perceptron : Rosenblatt's linear classifier.

    Examples
    --------
    >>> from numnet.sklearn import MLPClassifier
    >>> clf = MLPClassifier(hidden_layer_sizes=(10,), random_state=0, max_iter=500)
    >>> clf.fit([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0]).predict([[1, 1]]).shape
    (1,)
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 callbacks=None):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun, callbacks=callbacks)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=_SPARSE_FORMATS, multi_output=True,
                             dtype=(np.float64, np.float32),
                             reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in "
                        f"the previous call to fit. Previously got {self.classes_}, "
                        f"`y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` "
                                 f"has {self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(X.dtype)

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array of shape (n_classes,), default=None
            Classes across all calls to partial_fit; required on the first call.

        Returns
        -------
        self : object
            The trained model.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            The probability of each class, in the order of ``classes_``.
        """
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X):
        """Log of the probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``.
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = """Multi-layer perceptron regressor (scikit-learn compatible).

    Optimizes half the squared error (or half the Poisson deviance) with
    scikit-learn's own algorithm on numnet's in-place NumPy core; supports
    multi-output targets. Computes in float64 unless ``X`` is float32.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        The loss; 'poisson' uses an exponential output.""" + _COMMON_PARAMS_DOC + """
    Attributes
    ----------""" + _ATTRIBUTES_DOC + """
    See Also
    --------
    MLPClassifier : The classifier.

    Examples
    --------
    >>> import numpy as np
    >>> from numnet.sklearn import MLPRegressor
    >>> X = np.linspace(0, 1, 50).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(8,), random_state=0, max_iter=50)
    >>> reg.fit(X, X.ravel()).predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 callbacks=None):
        self.loss = loss
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun, callbacks=callbacks)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=_SPARSE_FORMATS, multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.dtype.kind in "USa":
            # scikit-learn fails on these later, inside its loss; say why up front.
            raise ValueError(f"MLPRegressor needs numeric targets, got y of dtype {y.dtype} "
                             "(strings). Convert y to numbers first, e.g. y.astype(float).")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The trained model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
