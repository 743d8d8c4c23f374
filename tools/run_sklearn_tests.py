"""Runs scikit-learn's own tests of its MLPs and Perceptron against `numnet.sklearn`.

Usage (from the repository root):

    python tools/run_sklearn_tests.py [--sklearn-root DIR] [--keep-excluded] [PYTEST ARGS...]

It reads `neural_network/tests/test_mlp.py` and
`linear_model/tests/test_perceptron.py` from scikit-learn's package folder
(default: the installed `sklearn`, whose wheel ships its tests; or `DIR`, the
`sklearn/` folder of a source checkout), rewrites their imports of
`MLPClassifier`, `MLPRegressor` and `Perceptron` so that they come from
`numnet.sklearn`, writes the rewritten files into a temporary folder and runs
pytest there with scikit-learn's own conftest as a plugin (it provides
fixtures such as `global_random_seed`). Nothing of scikit-learn's test code is
kept in this repository; the exit status is pytest's.

Tests of scikit-learn's private helpers, which numnet does not reproduce, are
deselected (see `EXCLUDED`, printed with their reasons); `--keep-excluded`
runs them too. If an expected import is missing (the upstream file changed),
the runner stops with an error rather than run scikit-learn against itself.
"""

import argparse
import ast
import os
import subprocess
import sys
import tempfile

# Upstream test file (relative to the sklearn package) -> names taken from numnet.sklearn.
SUITES = {
    "neural_network/tests/test_mlp.py": ("MLPClassifier", "MLPRegressor"),
    "linear_model/tests/test_perceptron.py": ("Perceptron",),
}

# Tests of scikit-learn's private helpers: test id -> why it is not run against numnet.
EXCLUDED = {
    "test_mlp.py::test_gradient":
        "calls scikit-learn's private MLPClassifier._loss_grad_lbfgs helper with its private "
        "buffer layout; numnet's backprop gradients are checked by finite differences in "
        "tests/sklearn/test_sklearn_sparse_and_inputs.py::test_backprop_matches_finite_differences",
}


def rewrite_imports(source, names, filename):
    """`source` with `names` imported from `numnet.sklearn` instead of scikit-learn.

    Every `from sklearn... import NAME` of one of `names` is rewritten (other
    names on the same line keep coming from scikit-learn). Raises
    `SystemExit` when one of `names` is never imported that way.
    """
    tree = ast.parse(source, filename)
    lines = source.splitlines(keepends=True)
    found = set()
    # Edit from the bottom up so earlier line numbers stay valid.
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and (node.module or "").startswith("sklearn")]
    for node in sorted(imports, key=lambda n: n.lineno, reverse=True):
        ours = [alias for alias in node.names if alias.name in names]
        if not ours:
            continue
        found.update(alias.name for alias in ours)
        theirs = [alias for alias in node.names if alias.name not in names]

        def spell(aliases):
            return ", ".join(a.name if a.asname is None else f"{a.name} as {a.asname}"
                             for a in aliases)

        indent = " " * node.col_offset
        new = f"{indent}from numnet.sklearn import {spell(ours)}\n"
        if theirs:
            new = f"{indent}from {node.module} import {spell(theirs)}\n" + new
        lines[node.lineno - 1:node.end_lineno] = [new]
    missing = set(names) - found
    if missing:
        raise SystemExit(f"{filename}: no 'from sklearn... import' of {sorted(missing)} found; "
                         "the upstream file changed, update tools/run_sklearn_tests.py")
    guard = "".join(f"assert {name}.__module__.startswith('numnet.'), {name}\n"
                    for name in sorted(names))
    note = "\n\n# Added by numnet's runner: the classes under test are numnet's.\n"
    return "".join(lines) + note + guard


def sklearn_package_dir():
    import sklearn

    return os.path.dirname(os.path.abspath(sklearn.__file__))


def upstream_files(root):
    """Paths of the upstream test files under `root`, or a list of the missing ones."""
    paths = {rel: os.path.join(root, rel) for rel in SUITES}
    missing = [path for path in paths.values() if not os.path.isfile(path)]
    return paths, missing


def prepare(root, folder):
    """Writes the rewritten test files into `folder`; returns their paths."""
    paths, missing = upstream_files(root)
    if missing:
        raise SystemExit("scikit-learn's test files are not there: " + ", ".join(missing))
    written = []
    for rel, path in paths.items():
        with open(path, encoding="utf-8") as f:
            source = f.read()
        target = os.path.join(folder, os.path.basename(rel))
        with open(target, "w", encoding="utf-8") as f:
            f.write(rewrite_imports(source, SUITES[rel], path))
        written.append(target)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sklearn-root", default=None,
                        help="scikit-learn's package folder (default: the installed sklearn)")
    parser.add_argument("--keep-excluded", action="store_true",
                        help="also run the tests of scikit-learn's private helpers")
    args, pytest_args = parser.parse_known_args(argv)
    root = os.path.abspath(args.sklearn_root or sklearn_package_dir())
    with tempfile.TemporaryDirectory(prefix="numnet-sklearn-tests-") as folder:
        files = prepare(root, folder)
        command = [sys.executable, "-m", "pytest", *files, "-p", "sklearn.conftest",
                   "-p", "no:cacheprovider", "--rootdir", folder]
        if not args.keep_excluded:
            print("Excluded (tests of scikit-learn's private helpers):")
            for test_id, reason in EXCLUDED.items():
                print(f"  {test_id}: {reason}")
                command += ["--deselect", test_id]
        env = dict(os.environ)
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, env.get("PYTHONPATH")]))
        env.setdefault("SCIPY_ARRAY_API", "1")
        # The problems are tiny: one BLAS thread is faster, and far faster on a busy machine.
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(variable, "1")
        return subprocess.call(command + pytest_args, cwd=folder, env=env)


if __name__ == "__main__":
    sys.exit(main())
