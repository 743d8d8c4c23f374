"""The pytest plugin `run.py` loads (`-p plugin`): exclusions, a per-test time limit, and a
machine-readable record of every test's outcome.

Configured through environment variables set by `run.py`:
    KERAS_TESTS_RESULTS   the JSON file to write the outcomes to
    KERAS_TESTS_TIMEOUT   seconds a single test may run (default 120)
"""

import importlib.abc
import importlib.util
import importlib.machinery
import json
import os
import re
import signal
import sys
import types

import pytest

from selection import ABSENT_FRAMEWORKS, EXCLUDED

_RESULTS = {"tests": {}, "collection_errors": {}, "excluded": {}}
_PATTERNS = [(re.compile(pattern, re.IGNORECASE), reason) for pattern, reason in EXCLUDED]


class _Absent(types.ModuleType):
    """Stands in for a framework that is not installed, so a test file that imports it at
    the top still loads; any use of it raises (the tests that use it are excluded or fail).
    """

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Absent(f"{self.__name__}.{name}")

    def __call__(self, *args, **kwargs):
        raise ModuleNotFoundError(f"{self.__name__.split('.')[0]} is not installed "
                                  f"(used: {self.__name__})")


class _AbsentFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on `sys.meta_path`: only imports that found nothing installed reach it."""

    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _Absent(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


# Only frameworks that are really not installed are stood in for (an installed one keeps
# failing its own optional imports the way it expects).
sys.meta_path.append(_AbsentFinder(
    name for name in ABSENT_FRAMEWORKS if importlib.util.find_spec(name) is None))


def pytest_configure(config):
    # The markers Keras' own conftest.py declares.
    config.addinivalue_line("markers", "requires_trainable_backend: needs a trainable backend")
    config.addinivalue_line("markers", "multi_device: needs several devices")


def exclusion_reason(nodeid):
    """The reason a test is excluded, or None if it is counted."""
    for pattern, reason in _PATTERNS:
        if pattern.search(nodeid):
            return reason
    return None


def pytest_collection_modifyitems(session, config, items):
    kept, dropped = [], []
    for item in items:
        reason = exclusion_reason(item.nodeid)
        if reason is None:
            if "multi_device" in item.keywords:
                item.add_marker(pytest.mark.skip(reason="Requires multiple devices"))
            kept.append(item)
        else:
            _RESULTS["excluded"][item.nodeid] = reason
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


def pytest_collectreport(report):
    if report.failed:
        _RESULTS["collection_errors"][report.nodeid] = _first_lines(report.longreprtext)


def _first_lines(text, limit=8):
    lines = [line for line in str(text).splitlines() if line.strip()]
    # The exception line (`E   ...`) is the informative part of a pytest report.
    errors = [line for line in lines if line.startswith("E ")]
    chosen = errors[:limit] if errors else lines[-limit:]
    return "\n".join(chosen)[:2000]


class _TestTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _TestTimeout("the test ran past the harness' time limit (KERAS_TESTS_TIMEOUT)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    limit = int(os.environ.get("KERAS_TESTS_TIMEOUT", "120"))
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def pytest_runtest_logreport(report):
    record = _RESULTS["tests"].setdefault(report.nodeid, {"outcome": "passed"})
    if report.when == "call":
        record["duration"] = round(report.duration, 3)
    if report.skipped:
        if record["outcome"] == "passed":
            record["outcome"] = "skipped"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            record["message"] = str(reason)[:500]
    elif report.failed:
        if record["outcome"] != "failed":
            record["outcome"] = "failed"
            record["when"] = report.when
            record["message"] = _first_lines(report.longreprtext)


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("KERAS_TESTS_RESULTS")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(_RESULTS, f, indent=1, sort_keys=True)
