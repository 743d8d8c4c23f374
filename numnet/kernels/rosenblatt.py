"""Rosenblatt's perceptron rule: the one implementation the layer and the estimator share.

For each instance `x` (in the given order) with target `t` and prediction
`p = predict(x . w + b, t)`, the rule moves the weights towards the target:

    w += eta * (t - p) * x        b += eta * (t - p)

With 0/1 targets and the Heaviside step this is the textbook rule; with -1/+1
targets and a prediction that counts a zero margin as an error it is
scikit-learn's `Perceptron` (stochastic gradient descent on the perceptron
criterion, whose per-instance penalty steps the estimator adds through
`before` and `after`). The rule is sequential by nature: one instance at a
time, so this loop is the algorithm, not a missed vectorization.
"""

from numnet.backend import xp


def rosenblatt_epoch(rows, targets, w, b, order, eta, predict, weights=None,
                     fit_intercept=True, before=None, after=None):
    """Runs one epoch of the rule in place on `w` (and `b`, a 1-element array).

    Args:
        rows: the instances, a sequence of 1-D arrays (`list(X)` is fastest).
        targets: one target per instance (a float, or a 1-D array for several units).
        w: the weights, `(n_features,)` or `(n_features, units)`, updated in place.
        b: the bias, an array of shape `()` or `(units,)`, updated in place.
        order: the instance indices to visit, in order.
        eta: the learning rate.
        predict: `predict(margin, target) -> prediction`, in the targets' encoding.
        weights: optional per-instance multipliers of the update.
        fit_intercept: whether `b` learns.
        before, after: optional hooks `before(k, margin)` (before any change of
            `w` for instance k) and `after(k, scale)` (after it; `scale` is the
            applied `eta * weight * (t - p)`, zero when nothing changed).

    Returns:
        The number of instances whose prediction missed its target.
    """
    errors = 0
    for k in order:
        x = rows[k]
        margin = x @ w + b
        target = targets[k]
        miss = target - predict(margin, target)
        if before is not None:
            before(k, margin)
        wrong = bool(xp.any(miss)) if getattr(miss, "ndim", 0) else miss != 0
        scale = 0.0
        if wrong:
            errors += 1
            scale = eta * miss if weights is None else eta * weights[k] * miss
            if getattr(scale, "ndim", 0):
                w += xp.multiply.outer(x, scale)
            else:
                w += scale * x
            if fit_intercept:
                b += scale
        if after is not None:
            after(k, scale)
    return errors
