"""Every file of the hostile corpus is refused with a clear error, in bounded memory and time.

The corpus (`hostile_corpus.py`) is built into a temporary folder. The cases
are loaded in child Python processes limited to `MEMORY_LIMIT` bytes of address
space (`RLIMIT_AS`) and `TIMEOUT_S` seconds: a loader that inflates a bomb
runs out of memory, one that opens a FIFO or follows a reference to the FIFO
canary hangs, and either fails the case it was loading (a fresh child goes
on with the rest). The child reports the exception it
got (type and message), or, had the load succeeded, whether any weight holds
the canary's value (proof of a read outside the file).
"""

import json
import os
import re
import subprocess
import sys

import pytest

resource = pytest.importorskip("resource", reason="POSIX only: RLIMIT_AS and FIFOs")
if not hasattr(os, "mkfifo"):
    pytest.skip("POSIX only: FIFOs", allow_module_level=True)

import numpy as np  # noqa: E402

import hostile_corpus  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MEMORY_LIMIT = 1024 ** 3
TIMEOUT_S = 60

CHILD = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]),) * 2)
sys.path.insert(0, sys.argv[2])
import numpy as np
import numnet
import hostile_corpus
for index, (call, path) in json.loads(sys.stdin.read()):
    print(json.dumps({"index": index, "started": True}), flush=True)
    try:
        if call == "load_model":
            model = numnet.models.load_model(path)
        else:
            model = hostile_corpus.target_model()
            model.load_weights(path)
    except BaseException as error:
        result = {"error": type(error).__name__, "message": str(error)}
    else:
        weights = [np.asarray(w) for w in model.get_weights()]
        result = {"error": None, "canary": any(bool(np.any(w == hostile_corpus.CANARY_VALUE))
                                               for w in weights)}
    print(json.dumps({"index": index, **result}), flush=True)
"""


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _env():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    root = os.path.dirname(os.path.dirname(HERE))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def _run_loads(cases, cwd):
    """Loads `cases` in as few limited child processes as possible; returns {index: result}.

    A child runs the cases one after the other and reports each as it ends. If
    it dies (out of memory) or hangs past the timeout, the case it was running
    gets that as its result and a fresh child takes the rest.
    """
    results, todo = {}, list(range(len(cases)))
    while todo:
        payload = json.dumps([[i, [cases[i].call, cases[i].path]] for i in todo])
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(MEMORY_LIMIT), HERE],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, cwd=cwd, env=_env())
        try:
            out, err = child.communicate(payload, timeout=TIMEOUT_S)
            ended = f"the child died (exit {child.returncode}): {err[-1500:]}"
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
            ended = f"hung for {TIMEOUT_S} s (opened a FIFO or followed a reference to one?)"
        running = None
        for line in out.splitlines():
            record = json.loads(line)
            if record.pop("started", False):
                running = record["index"]
            else:
                results[record["index"]] = record
                running = None
        if running is not None:
            results[running] = {"problem": ended}
        todo = [i for i in todo if i not in results]
    return results


def _check(case, result):
    """The problem with `result` for `case` (None if it was refused as expected), and a summary."""
    if "problem" in result:
        return result["problem"], None
    if result["error"] is None:
        return f"loaded without error (canary in the weights: {result['canary']})", None
    outcome = f"{result['error']}: {result['message']}"
    if result["error"] != case.error or re.search(case.match, result["message"]) is None:
        return f"expected {case.error} /{case.match}/; got {outcome}", outcome
    return None, outcome


def _run_cli(case, cwd):
    try:
        done = subprocess.run([sys.executable, "-m", "numnet", "summary", case.path],
                              capture_output=True, text=True, timeout=TIMEOUT_S, cwd=cwd,
                              env=_env(), check=False, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        return f"hung for {TIMEOUT_S} s", None
    outcome = f"exit {done.returncode}: {done.stderr.strip()}"
    if done.returncode != 1 or re.search(case.match, done.stderr) is None:
        return f"expected exit 1 and /{case.match}/; got {outcome}", outcome
    return None, outcome


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    return folder, hostile_corpus.build_corpus(str(folder))


def test_corpus_reaches_the_canary_without_numnets_checks(corpus):
    """The outside references are real: plain h5py reads the canary through each of them."""
    folder, _ = corpus
    for kind, values in hostile_corpus.corpus_is_potent(str(folder)).items():
        np.testing.assert_array_equal(values, hostile_corpus.CANARY_VALUE, err_msg=kind)


def test_every_hostile_file_is_refused(corpus):
    folder, cases = corpus
    assert len(cases) >= 60
    loads = [case for case in cases if case.call != "cli_summary"]
    results = _run_loads(loads, str(folder))
    checked = [(case, *_check(case, results[i])) for i, case in enumerate(loads)]
    checked += [(case, *_run_cli(case, str(folder))) for case in cases
                if case.call == "cli_summary"]
    problems = [f"{case.name} ({case.call}): {problem}" for case, problem, _ in checked
                if problem]
    report = [f"{case.name} ({case.call}) -> {outcome}" for case, _, outcome in checked]
    assert not problems, "\n".join(problems)
    assert not os.path.exists(os.path.join(folder, "pwned"))
    print("\n".join(report))
