"""scikit-learn-compatible estimators built on numnet.

`Perceptron`, `MLPClassifier` and `MLPRegressor`, and SciKeras-style wrappers
of Keras-style models, `KerasClassifier` and `KerasRegressor`.

They take scikit-learn's parameter names and defaults, set its fitted
attributes and pass its estimator checks. scikit-learn is an optional extra
(`pip install numnet[sklearn]`); `import numnet` never imports it, only
`import numnet.sklearn` does.

numnet extensions, off by default: `callbacks=[...]` during `fit`,
`to_keras()` (the trained network as a `numnet.Sequential`) and `save(path)`.
"""

try:
    import sklearn  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "numnet.sklearn needs scikit-learn: pip install 'numnet[sklearn]'"
    ) from error

from numnet.sklearn._keras_wrappers import KerasClassifier, KerasRegressor
from numnet.sklearn._mlp import MLPClassifier, MLPRegressor
from numnet.sklearn._perceptron import Perceptron

__all__ = ["KerasClassifier", "KerasRegressor", "MLPClassifier", "MLPRegressor", "Perceptron"]
