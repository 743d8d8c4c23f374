"""`Perceptron`: Rosenblatt's rule, sample by sample, as scikit-learn runs it."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from numnet.kernels.rosenblatt import rosenblatt_step, zero_margin_is_wrong
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_random_state, compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

_MAX_INT = np.iinfo(np.int32).max
_MASK32 = 0xFFFFFFFF
# scikit-learn scales the intercept's updates by this factor when X is sparse.
_SPARSE_INTERCEPT_DECAY = 0.01


def _xorshift_permute(index, seed):
    """Permutes `index` in place with scikit-learn's Fisher-Yates and xorshift generator."""
    n = len(index)
    seed &= _MASK32
    if seed == 0:
        seed = 1
    for i in range(n - 1):
        seed ^= (seed << 13) & _MASK32
        seed ^= seed >> 17
        seed ^= (seed << 5) & _MASK32
        j = i + (seed % (_MAX_INT + 1)) % (n - i)
        index[i], index[j] = index[j], index[i]


def _rows(X):
    """Each instance as (its feature indices, or None for all, its values).

    Lists of row views: indexing a list is cheaper than indexing the array.
    A sparse `X` (canonical CSR) gives its stored entries only.
    """
    if not sp.issparse(X):
        return [None] * X.shape[0], list(X)
    bounds = zip(X.indptr[:-1].tolist(), X.indptr[1:].tolist())
    cols, values = zip(*[(X.indices[lo:hi], X.data[lo:hi]) for lo, hi in bounds])
    return list(cols), list(values)


def _l1_truncate(w, q, u, cols):
    """scikit-learn's cumulative L1 truncation of the weights in `cols` (all if None)."""
    index = slice(None) if cols is None else cols
    old = w[index].copy()
    new = old.copy()
    pos, neg = old > 0, old < 0
    new[pos] = np.maximum(0.0, old[pos] - (u + q[index][pos]))
    new[neg] = np.minimum(0.0, old[neg] + (u - q[index][neg]))
    w[index] = new
    q[index] += new - old


def _rosenblatt(X, y, w, b, *, eta, alpha, l1_ratio, penalty, fit_intercept, max_iter, tol,
                n_iter_no_change, shuffle, seed, pos_weight, neg_weight, sample_weight,
                train_mask, validation, verbose):
    """One-vs-rest binary perceptron in place on `w` (and returns the intercept).

    `y` holds +1/-1. An instance with `y * (w.x + b) <= 0` triggers
    `w += eta * y * x` (Rosenblatt's rule written with +-1 targets; the
    0/1 form `w -= eta * (yhat - y) * x` gives the same weights up to a
    factor 2 absorbed by eta, and the intercept likewise). With a sparse
    `X` (canonical CSR) only the stored features of an instance are read
    and updated (the L1 truncation too) and the intercept moves by
    `_SPARSE_INTERCEPT_DECAY` times the update, as in scikit-learn.
    """
    n_samples = X.shape[0]
    order = list(range(n_samples))
    all_cols, rows = _rows(X)
    intercept_decay = _SPARSE_INTERCEPT_DECAY if sp.issparse(X) else 1.0
    ys = y.tolist()
    sws = sample_weight.tolist()
    train = train_mask.tolist()
    train_count = max(int(train_mask.sum()), 1)
    l2 = penalty in ("l2", "elasticnet")
    l1 = penalty in ("l1", "elasticnet")
    ratio = 1.0 if penalty == "l1" else (0.0 if penalty == "l2" else l1_ratio)
    q = np.zeros_like(w) if l1 else None
    u = 0.0
    stop_rule = _StopRule(tol, n_iter_no_change, validation, verbose)
    n_iter = 0
    dot = np.dot
    sq_norm = float(dot(w, w))
    for epoch in range(max_iter):
        if shuffle:
            _xorshift_permute(order, seed)
        objective = 0.0
        for k in order:
            if not train[k]:
                continue
            x, cols = rows[k], all_cols[k]
            yk = ys[k]
            p = float(dot(w if cols is None else w[cols], x)) + b
            z = p * yk
            if z <= 0:
                objective -= z
            if penalty is not None:
                objective += alpha * ((1 - ratio) * 0.5 * sq_norm
                                      + ratio * float(np.abs(w).sum()))
            update = rosenblatt_step(p, yk, 0.5 * eta, zero_margin_is_wrong)
            update *= (pos_weight if yk > 0 else neg_weight) * sws[k]
            if l2:
                c = max(0.0, 1.0 - (1.0 - ratio) * eta * alpha)
                w *= c
                sq_norm *= c * c
            if update != 0.0:
                if penalty is not None:
                    # scikit-learn tracks ||w||^2 incrementally (stale after the L1 step)
                    # and stops on it: keep the same bookkeeping to stop at the same epoch.
                    w_x = float(dot(w if cols is None else w[cols], x))
                    sq_norm += float(dot(x, x)) * update * update + 2.0 * update * w_x
                if cols is None:
                    w += update * x
                else:
                    w[cols] += update * x
                if fit_intercept:
                    b += update * intercept_decay
            if l1:
                u += ratio * eta * alpha
                _l1_truncate(w, q, u, cols)
        n_iter = epoch + 1
        if not (np.isfinite(b) and np.isfinite(w).all()):
            raise ValueError("Floating-point under-/overflow occurred at epoch #%d. Scaling "
                             "input data with StandardScaler or MinMaxScaler might help."
                             % n_iter)
        if stop_rule.after_epoch(n_iter, w, b, objective / train_count):
            break
    return b, n_iter


class _StopRule:
    """scikit-learn's stopping rule for the SGD-style estimators: stop after
    `n_iter_no_change` epochs without a validation score above the best by `tol` (with
    early stopping) or an average training loss below the best by `tol` (without)."""

    def __init__(self, tol, n_iter_no_change, validation, verbose):
        self.tol, self.n_iter_no_change = tol, n_iter_no_change
        self.validation, self.verbose = validation, verbose
        self.best_loss, self.best_score, self.no_improvement = np.inf, -np.inf, 0

    def after_epoch(self, n_iter, w, b, average_loss):
        """Records epoch `n_iter` (weights `w`, intercept `b`); True when training stops."""
        if self.validation is not None:
            score = self.validation(w, b)
            if self.verbose:
                print("-- Epoch %d, validation score: %f" % (n_iter, score))
            improved = not score < self.best_score + self.tol  # as written in scikit-learn
            self.best_score = max(self.best_score, score)
        else:
            if self.verbose:
                print("-- Epoch %d\nNorm: %.2f, Bias: %.6f, Avg. loss: %f"
                      % (n_iter, float(np.sqrt(np.dot(w, w))), b, average_loss))
            improved = not average_loss > self.best_loss - self.tol
            self.best_loss = min(self.best_loss, average_loss)
        self.no_improvement = 0 if improved else self.no_improvement + 1
        return self.no_improvement >= self.n_iter_no_change


class Perceptron(ClassifierMixin, BaseEstimator):
    """Linear perceptron classifier (scikit-learn compatible).

    Rosenblatt's threshold logic units trained one instance at a time: each
    misclassified instance (``y * (w.x + b) <= 0`` with ``y`` in {-1, +1})
    moves the weights by ``eta0 * y * x``. Multiclass targets train one
    perceptron per class (one-vs-rest). Same draws, order and stopping rule
    as scikit-learn's ``Perceptron`` (``SGDClassifier(loss="perceptron",
    eta0=1, learning_rate="constant", penalty=None)``), hence the same
    ``coef_`` and ``intercept_`` for the same ``random_state``.

    Unlike logistic regression it gives no class probabilities (no
    ``predict_proba``) and stops changing as soon as an epoch makes no error.

    Parameters
    ----------
    penalty : {'l2', 'l1', 'elasticnet'}, default=None
        Optional regularization term.
    alpha : float, default=0.0001
        Regularization strength (with ``penalty``).
    l1_ratio : float, default=0.15
        Elastic-net mixing (``penalty='elasticnet'``).
    fit_intercept : bool, default=True
        Whether to learn an intercept.
    max_iter : int, default=1000
        Maximum number of epochs.
    tol : float or None, default=1e-3
        Stop when the epoch's average loss is not below the best minus
        ``tol`` for ``n_iter_no_change`` epochs (None: run ``max_iter``).
    shuffle : bool, default=True
        Whether to shuffle the instances at each epoch.
    verbose : int, default=0
        Verbosity.
    eta0 : float, default=1.0
        The learning rate.
    n_jobs : int, default=None
        Accepted for compatibility; the one-vs-rest fits run sequentially.
    random_state : int, RandomState instance or None, default=0
        Seeds the shuffles and the validation split.
    early_stopping : bool, default=False
        Stop on the accuracy of a held-out ``validation_fraction``.
    validation_fraction : float, default=0.1
        Held-out proportion with ``early_stopping``.
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping.
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes.
    warm_start : bool, default=False
        Start from the previous solution.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        The weights.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        The biases.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit (string column names only).
    n_iter_ : int
        Epochs run (the most over the one-vs-rest problems).
    t_ : int
        Number of weight updates considered: ``n_iter_ * n_samples + 1``.

    See Also
    --------
    numnet.layers.Perceptron : A Keras-style layer of TLUs with its trainer.
    MLPClassifier : Multi-layer perceptrons, with class probabilities.

    Examples
    --------
    >>> from numnet.sklearn import Perceptron
    >>> clf = Perceptron(random_state=42).fit([[1, 1], [2, 2], [-1, -1], [-2, -1]], [1, 1, 0, 0])
    >>> clf.predict([[3, 3], [-3, -3]]).tolist()
    [1, 0]
    """

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "shuffle": ["boolean"],
        "verbose": ["verbose"],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "warm_start": ["boolean"],
    }

    def __init__(self, *, penalty=None, alpha=0.0001, l1_ratio=0.15, fit_intercept=True,
                 max_iter=1000, tol=1e-3, shuffle=True, verbose=0, eta0=1.0, n_jobs=None,
                 random_state=0, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=5, class_weight=None, warm_start=False):
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.eta0 = eta0
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start

    def _validation_mask(self, y, sample_weight):
        mask = np.zeros(len(y), dtype=bool)
        if not self.early_stopping:
            return mask
        idx = np.flatnonzero(sample_weight > 0)
        cv = (StratifiedShuffleSplit if len(self.classes_) > 1 else ShuffleSplit)(
            test_size=self.validation_fraction, random_state=self.random_state)
        _, test = next(cv.split(np.zeros((len(idx), 1)), y[idx]))
        if len(test) == 0 or len(test) == len(idx):
            raise ValueError("Splitting %d samples into a train set and a validation set with "
                             "validation_fraction=%r led to an empty set. Increase or decrease "
                             "validation_fraction." % (len(idx), self.validation_fraction))
        mask[idx[test]] = True
        return mask

    def _partial_fit(self, X, y, classes, sample_weight, max_iter, coef_init=None,
                     intercept_init=None):
        first_call = not hasattr(self, "classes_")
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", accept_large_sparse=False, reset=first_call)
        if sp.issparse(X) and not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()  # one stored entry per feature: updates index w by column
        _check_partial_fit_first_call(self, classes)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError("The number of classes has to be greater than one; got %d class"
                             % n_classes)
        if not set(np.unique(y)) <= set(self.classes_):
            raise ValueError(f"`y` has classes not in `self.classes_` {self.classes_}.")
        class_weight = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                             allow_all_zero_weights=self.early_stopping)
        n_rows = 1 if n_classes == 2 else n_classes
        if getattr(self, "coef_", None) is None or coef_init is not None:
            coef = np.zeros((n_rows, X.shape[1]), X.dtype)
            intercept = np.zeros(n_rows, X.dtype)
            if coef_init is not None:
                coef_init = np.asarray(coef_init, X.dtype)
                if coef_init.size != coef.size:
                    raise ValueError("Provided ``coef_`` does not match dataset.")
                coef[...] = coef_init.reshape(n_rows, -1)
            if intercept_init is not None:
                intercept_init = np.asarray(intercept_init, X.dtype)
                if intercept_init.size != n_rows:
                    raise ValueError("Provided intercept_init does not match dataset.")
                intercept[...] = intercept_init.reshape(n_rows)
            self.coef_, self.intercept_ = coef, intercept
        elif X.shape[1] != self.coef_.shape[-1]:
            raise ValueError("Number of features %d does not match previous data %d."
                             % (X.shape[1], self.coef_.shape[-1]))
        self.coef_ = np.ascontiguousarray(self.coef_, dtype=X.dtype)
        self.intercept_ = np.array(self.intercept_, dtype=X.dtype)
        if not hasattr(self, "t_"):
            self.t_ = 1.0
        mask = self._validation_mask(y, sample_weight)
        train_mask = ~mask & (sample_weight > 0) if self.early_stopping else ~mask
        if n_classes == 2:
            jobs = [(1, class_weight[1], class_weight[0], self.random_state)]
        else:
            seeds = check_random_state(self.random_state).randint(_MAX_INT, size=n_classes)
            jobs = [(i, class_weight[i], 1.0, seed) for i, seed in enumerate(seeds)]
        n_iter = 0
        for row, (i, pos_weight, neg_weight, seed) in enumerate(jobs):
            rng = check_random_state(seed)
            rng.randint(1, _MAX_INT)  # scikit-learn's dataset seed, drawn and unused
            shuffle_seed = int(rng.randint(_MAX_INT))
            y_i = np.where(y == self.classes_[i], 1.0, -1.0)
            validation = None
            if self.early_stopping:
                X_val, y_val, sw_val = X[mask], y_i[mask], sample_weight[mask]

                def validation(w, b, X_val=X_val, y_val=y_val, sw_val=sw_val):
                    pred = np.where(X_val @ w + b > 0, 1.0, -1.0)
                    return float(np.average(pred == y_val, weights=sw_val))
            w = self.coef_[row]
            b, n_iter_i = _rosenblatt(
                X, y_i, w, float(self.intercept_[row]), eta=float(self.eta0),
                alpha=float(self.alpha), l1_ratio=float(self.l1_ratio), penalty=self.penalty,
                fit_intercept=self.fit_intercept, max_iter=max_iter,
                tol=-np.inf if self.tol is None else float(self.tol),
                n_iter_no_change=int(self.n_iter_no_change), shuffle=self.shuffle,
                seed=shuffle_seed, pos_weight=float(pos_weight), neg_weight=float(neg_weight),
                sample_weight=sample_weight, train_mask=train_mask, validation=validation,
                verbose=self.verbose)
            self.intercept_[row] = b
            n_iter = max(n_iter, n_iter_i)
        self.t_ += n_iter * X.shape[0]
        self.n_iter_ = n_iter
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit the perceptron with Rosenblatt's rule.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Target labels.
        coef_init : ndarray of shape (n_classes, n_features), default=None
            Initial weights.
        intercept_init : ndarray of shape (n_classes,), default=None
            Initial biases.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the instances (multiply their updates).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if hasattr(self, "classes_"):
            del self.classes_
        y = validate_data(self, y=y)
        if self.warm_start and getattr(self, "coef_", None) is not None:
            coef_init = self.coef_ if coef_init is None else coef_init
            intercept_init = self.intercept_ if intercept_init is None else intercept_init
        else:
            self.coef_ = self.intercept_ = None
        self.t_ = 1.0
        self._partial_fit(X, y, np.unique(y), sample_weight, self.max_iter, coef_init,
                          intercept_init)
        if self.tol is not None and self.n_iter_ == self.max_iter:
            warnings.warn("Maximum number of iteration reached before convergence. Consider "
                          "increasing max_iter to improve the fit.", ConvergenceWarning)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch of Rosenblatt's rule on the given instances.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Subset of the training data.
        y : array-like of shape (n_samples,)
            Subset of the target labels.
        classes : ndarray of shape (n_classes,), default=None
            All the classes; required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the instances.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        return self._partial_fit(X, y, classes, sample_weight, 1)

    def decision_function(self, X):
        """Signed distance-like scores ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The instances.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Positive for the positive class (binary) or per class (one-vs-rest).
        """
        check_is_fitted(self)
        # scikit-learn's dtype="numeric": strings are refused here (fit converts them).
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        scores = safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Predicts class labels: the step function of the decision scores.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The instances.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The predicted labels.
        """
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def densify(self):
        """Keeps ``coef_`` dense (it always is); returns self."""
        return self

    def sparsify(self):
        """Converts ``coef_`` to a SciPy CSR matrix; returns self."""
        from scipy import sparse

        check_is_fitted(self)
        self.coef_ = sparse.csr_matrix(self.coef_)
        return self
