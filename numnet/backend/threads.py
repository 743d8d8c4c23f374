"""How many BLAS threads numnet's own steps use, chosen for the user.

A matrix product of a small network at batch 32 takes microseconds: waking a
second BLAS thread costs more than it saves, and when another process keeps
a core busy, OpenBLAS' spinning threads can make an epoch several times
slower. So inside `fit`, `evaluate` and `predict` numnet sets the BLAS thread
count itself, through threadpoolctl, for the duration of the call only:

- one thread while the largest matrix product of a step is below
  `CROSSOVER_FLOPS` (measured on the project's machine: see
  `benchmarks/bench_threads.py`);
- above it, one thread per core that is not already busy (judged from the
  load average, so a loaded machine gets fewer threads).

`set_num_threads(n)` overrides the choice (`None` restores it). Outside
numnet's calls the user's own setting is never touched.
"""

import os

# Below this many floating-point operations in the largest product of a step,
# one thread is faster (see the module docstring).
CROSSOVER_FLOPS = 2e7

_STATE = {"override": None, "controller": None}


def set_num_threads(n):
    """Fixes the BLAS threads of numnet's fit / evaluate / predict (None: automatic)."""
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError(f"`set_num_threads` expects a positive integer or None; received {n!r}.")
    _STATE["override"] = n


def get_num_threads():
    """The override set by `set_num_threads` (None: numnet chooses per call)."""
    return _STATE["override"]


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def threads_for(flops):
    """The thread count for steps whose largest product costs `flops`."""
    if _STATE["override"] is not None:
        return _STATE["override"]
    if flops < CROSSOVER_FLOPS:
        return 1
    cores = _cores()
    try:
        busy_elsewhere = max(0, round(os.getloadavg()[0]) - 1)  # minus this process
    except OSError:  # pragma: no cover - no load average
        busy_elsewhere = 0
    return max(1, min(cores, cores - busy_elsewhere))


class thread_scope:
    """Context manager: the BLAS libraries use `threads_for(flops)` threads inside it.

    It talks to each BLAS through threadpoolctl's controllers directly (a
    C call each), changes only counts that differ and restores them on exit.
    """

    def __init__(self, flops):
        self.threads = threads_for(flops)
        self._restore = []

    def __enter__(self):
        for library in blas_libraries():
            previous = library.get_num_threads()
            if previous != self.threads:
                library.set_num_threads(self.threads)
                self._restore.append((library, previous))
        return self

    def __exit__(self, *exc):
        for library, previous in self._restore:
            library.set_num_threads(previous)
        self._restore = []
        return False


def blas_libraries():
    """The BLAS libraries loaded in this process (threadpoolctl's controllers), found once."""
    libraries = _STATE["controller"]
    if libraries is None:
        from threadpoolctl import ThreadpoolController
        libraries = _STATE["controller"] = [
            c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    return libraries
