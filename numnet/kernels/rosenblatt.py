"""Rosenblatt's perceptron rule: the one implementation the layer and the estimator share.

For an instance `x` with target `t` and the prediction `p = predict(margin, t)`
made from its margin `x . w + b`, the rule moves the weights towards the target:

    w += eta * (t - p) * x        b += eta * (t - p)

With 0/1 targets and the Heaviside step (`p = margin >= 0`) this is the
textbook rule; with -1/+1 targets and the sign step it is the same formula
(then `t - p` is 2t for a wrong side, t on the boundary). scikit-learn's
`Perceptron` is this rule too: -1/+1 targets, a prediction that counts a zero
margin as wrong (`p = -t` when `t * margin <= 0`) and half the learning rate.
The rule is sequential by nature, one instance at a time: the loops over
instances are the algorithm, not a missed vectorization.
"""

from numnet.backend import xp


def rosenblatt_step(margin, target, eta, predict):
    """`eta * (target - predict(margin, target))`: the rule's step for one instance (0 if right)."""
    return eta * (target - predict(margin, target))


def heaviside_prediction(margin, target):
    """The Heaviside step's output: 1 for a margin >= 0, else 0."""
    return (margin >= 0) * 1.0


def sign_prediction(margin, target):
    """The sign step's output: -1, 0 or 1."""
    return xp.sign(margin)


def zero_margin_is_wrong(margin, target):
    """scikit-learn's view with -1/+1 targets: an instance on the boundary is misclassified."""
    return -target if target * margin <= 0 else target


def rosenblatt_epoch(rows, targets, w, b, order, eta, predict):
    """One epoch of the rule in place on `w` `(features, units)` and `b` `(units,)`.

    Returns the number of instances whose prediction missed its target.
    """
    errors = 0
    for k in order:
        x = rows[k]
        step = rosenblatt_step(x @ w + b, targets[k], eta, predict)
        if step.any():
            errors += 1
            w += xp.multiply.outer(x, step)
            b += step
    return errors
