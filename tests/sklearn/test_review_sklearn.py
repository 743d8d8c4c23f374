"""Review: edge cases of numnet's scikit-learn estimators."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from numnet.sklearn import MLPClassifier, Perceptron

X = np.random.default_rng(0).normal(size=(30, 3))
Y = (X[:, 0] > 0).astype(int)


def test_perceptron_warm_start_with_new_classes_says_why():
    with pytest.warns(ConvergenceWarning):  # 5 epochs are deliberately too few
        clf = Perceptron(warm_start=True, max_iter=5).fit(X, Y)
    with pytest.raises(ValueError, match="does not match dataset"):
        clf.fit(X, np.arange(30) % 3)
    with pytest.raises(ValueError, match="does not match dataset"):
        Perceptron().fit(X, Y, coef_init=np.zeros((2, 3)))


def test_binary_mlp_to_keras_predicts_the_positive_class_probability():
    with pytest.warns(ConvergenceWarning):  # 5 epochs are deliberately too few
        clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, Y)
    out = clf.to_keras().predict(X, verbose=0)
    np.testing.assert_allclose(out, clf.predict_proba(X)[:, 1:], rtol=1e-6, atol=1e-7)
