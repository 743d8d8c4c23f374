"""The backend seam: the core reaches the array library only through `numnet.backend`.

The autodiff core, the kernel table, the engine, layers, losses, metrics,
optimizers, activations, initializers, regularizers and constraints never
import NumPy themselves: they use `xp` from `numnet.backend` (dtype constants
included, `xp.float32`). Swapping the array module for another (CuPy) is then a
change of `numnet/backend/array_module.py` alone.
"""

import ast
from pathlib import Path

import numnet

PACKAGE = Path(numnet.__file__).parent
SEAM = ["autodiff", "kernels", "engine", "layers", "metrics", "optimizers", "losses.py",
        "activations.py", "initializers.py", "regularizers.py", "constraints.py"]


def _modules():
    for entry in SEAM:
        path = PACKAGE / entry
        yield from ([path] if path.suffix == ".py" else sorted(path.rglob("*.py")))


def _numpy_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numpy" or alias.name.startswith("numpy."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and (
                node.module == "numpy" or node.module.startswith("numpy.")):
            yield node.lineno, node.module


def test_the_core_imports_numpy_only_through_the_backend():
    modules = list(_modules())
    assert len(modules) > 40  # the scan sees the package
    offenders = [f"{path.relative_to(PACKAGE)}:{line} imports {name}"
                 for path in modules for line, name in _numpy_imports(path)]
    assert not offenders, "\n".join(offenders)


def test_the_backend_module_is_the_one_place_numpy_is_chosen():
    source = (PACKAGE / "backend" / "array_module.py").read_text(encoding="utf-8")
    assert "import numpy" in source and "xp = numpy" in source
