"""scikit-learn's own MLP and Perceptron tests, run against numnet.sklearn.

`tools/run_sklearn_tests.py` takes `test_mlp.py` and `test_perceptron.py`
from the installed scikit-learn (its wheel ships them), makes them import
numnet's estimators and runs them; every test must pass except the few that
test scikit-learn's private helpers (listed with reasons in the runner).
"""

import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

import sklearn  # noqa: F401  (a test dependency: fail loudly if it is missing)

RUNNER = pathlib.Path(__file__).parents[2] / "tools" / "run_sklearn_tests.py"


def _load_runner():
    spec = importlib.util.spec_from_file_location("run_sklearn_tests", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runner_rewrites_only_the_estimator_imports():
    runner = _load_runner()
    source = ("from sklearn.linear_model import PoissonRegressor, Perceptron as P\n"
              "from sklearn.neural_network import (\n    MLPClassifier,\n)\nx = 1\n")
    out = runner.rewrite_imports(source, ("Perceptron", "MLPClassifier"), "t.py")
    assert out.startswith("from sklearn.linear_model import PoissonRegressor\n"
                          "from numnet.sklearn import Perceptron as P\n"
                          "from numnet.sklearn import MLPClassifier\nx = 1\n")
    assert "assert MLPClassifier.__module__.startswith('numnet.')" in out
    with pytest.raises(SystemExit, match="MLPRegressor"):
        runner.rewrite_imports(source, ("MLPRegressor",), "t.py")


def test_sklearn_mlp_and_perceptron_tests_pass_on_numnet():
    runner = _load_runner()
    _, missing = runner.upstream_files(runner.sklearn_package_dir())
    if missing:
        pytest.skip("this scikit-learn installation ships no tests: " + ", ".join(missing))
    result = subprocess.run([sys.executable, str(RUNNER), "-q", "-p", "no:randomly"],
                            capture_output=True, text=True, timeout=600)
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert not re.search(r"\d+ (failed|error)", summary), summary
    assert f"{len(runner.EXCLUDED)} deselected" in summary, summary
    assert int(re.search(r"(\d+) passed", summary).group(1)) >= 60, summary
