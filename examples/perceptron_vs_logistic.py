"""The perceptron versus logistic regression, on the textbook's iris task.

Both draw a straight decision boundary, but they differ in two ways:

1. The perceptron gives hard decisions only: no class probabilities
   (`predict_proba` does not exist); logistic regression estimates them.
2. The perceptron stops changing as soon as an epoch makes no training error
   (Rosenblatt's rule only moves the weights on mistakes), wherever the
   boundary lies; logistic regression keeps pushing its boundary to the
   maximum-likelihood position, so its margin is usually larger.

Run: python examples/perceptron_vs_logistic.py  (needs scikit-learn)
"""

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import numnet as keras
from numnet.sklearn import Perceptron


def margin(coef, intercept, X):
    """Smallest distance from a training point to the decision boundary."""
    w = np.ravel(coef)
    return float(np.min(np.abs(X @ w + intercept[0])) / np.linalg.norm(w))


def main():
    iris = load_iris()
    X = iris.data[:, 2:4]  # petal length, petal width
    y = iris.target == 0   # Iris setosa?

    per = Perceptron(random_state=42).fit(X, y)
    log = LogisticRegression(random_state=42).fit(X, y)
    new = np.array([[2, 0.5], [3, 1]])

    print("Perceptron:  coef_", per.coef_, "intercept_", per.intercept_,
          "epochs", per.n_iter_)
    print("  predictions", per.predict(new), "training errors", int((per.predict(X) != y).sum()))
    print("  has predict_proba:", hasattr(per, "predict_proba"))
    print("  margin %.3f" % margin(per.coef_, per.intercept_, X))
    print("Logistic regression: coef_", log.coef_.round(3), "intercept_", log.intercept_.round(3))
    print("  predictions", log.predict(new), "probabilities", log.predict_proba(new)[:, 1].round(3))
    print("  margin %.3f" % margin(log.coef_, log.intercept_, X))

    # The same algorithm as a Keras-style layer of threshold logic units.
    tlu = keras.layers.TLU(dtype="float64")
    history = tlu.fit_rosenblatt(X, y.astype(float), seed=42)
    print("numnet.layers.TLU: converged after", history["epochs"], "epochs,",
          history["updates"], "updates; errors per epoch", history["errors"])
    print("  predictions", tlu(new.astype(float)).numpy().ravel())


if __name__ == "__main__":
    main()
