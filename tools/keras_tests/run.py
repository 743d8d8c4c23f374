"""Runs Keras' own unit tests against numnet and counts what passes.

    python tools/keras_tests/run.py --keras-src PATH [--modules activations losses ...]

PATH is a Keras source tree (a checkout of the Keras 3.15.1 tag); nothing from it is kept
here. The selected test files are copied into a scratch folder and run with pytest, one
process per module, with the `keras` shim (tools/keras_tests/shim) first on `sys.path`: it
maps `keras` and `keras.src.*` onto numnet. `--reference` runs the same files against real
Keras instead (give `--python` a Python that has Keras and a backend installed), which is
how the "Keras passes" column is obtained.

Prints pass / fail / skip counts per module and writes a JSON summary (`--out`) with every
test's outcome and the first lines of each failure.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from selection import DATA_DIRS, default_modules, files_for  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keras-src", required=True,
                        help="root of a Keras source tree (holds keras/src/)")
    parser.add_argument("--modules", nargs="*", default=None,
                        help="module names from selection.py (default: issue 14's list)")
    parser.add_argument("--out", default="keras_tests_summary.json",
                        help="where to write the JSON summary")
    parser.add_argument("--reference", action="store_true",
                        help="run against real Keras (no shim) to get reference counts")
    parser.add_argument("--backend", default="tensorflow",
                        help="KERAS_BACKEND for --reference runs")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python that runs pytest (for --reference: one with Keras)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per test")
    parser.add_argument("-k", dest="keyword", default=None, help="pytest -k expression")
    parser.add_argument("--compare", default=None,
                        help="a --reference summary to show Keras' own counts beside ours")
    parser.add_argument("-v", "--verbose", action="store_true", help="show pytest's output")
    return parser.parse_args(argv)


def keras_src_dir(root):
    """`keras/src` inside a Keras source tree, checked."""
    src = Path(root).resolve() / "keras" / "src"
    if not (src / "version.py").is_file():
        raise SystemExit(f"{root} is not a Keras source tree (no keras/src/version.py)")
    return src


def keras_version(src):
    for line in (src / "version.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "unknown"


def stage_files(src, files, scratch):
    """Copies test files under scratch/kt/<relative path> (no package __init__ files)."""
    staged = []
    for rel in files:
        source = src / rel
        if not source.is_file():
            raise SystemExit(f"{source} does not exist in this Keras source tree")
        target = scratch / "kt" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        staged.append(target)
    for rel in DATA_DIRS:
        if (src / rel).is_dir() and not (scratch / "kt" / rel).exists():
            shutil.copytree(src / rel, scratch / "kt" / rel)
    return staged


def pytest_command(args, staged, scratch):
    command = [args.python, "-m", "pytest", "-p", "plugin", "-p", "no:cacheprovider",
               "--import-mode=importlib", "--rootdir", str(scratch), "-c",
               str(scratch / "pytest.ini"), "-q", "-rN", "--tb=short", "-W", "ignore"]
    if args.keyword:
        command += ["-k", args.keyword]
    return command + [str(p) for p in staged]


def environment(args, src, results_path):
    env = dict(os.environ)
    paths = [str(HERE / "support"), str(HERE)]
    if not args.reference:
        paths.insert(0, str(HERE / "shim"))
    repo_root = HERE.parent.parent
    if not args.reference:
        paths.append(str(repo_root))
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["KERAS_SRC"] = str(src)
    env["KERAS_TESTS_RESULTS"] = str(results_path)
    env["KERAS_TESTS_TIMEOUT"] = str(args.timeout)
    env["KERAS_BACKEND"] = args.backend
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    return env


def run_module(args, src, module, files, scratch):
    staged = stage_files(src, files, scratch)
    results_path = scratch / f"{module}.json"
    start = time.time()
    proc = subprocess.run(pytest_command(args, staged, scratch), cwd=scratch,
                          env=environment(args, src, results_path),
                          capture_output=not args.verbose, text=True)
    elapsed = time.time() - start
    if results_path.is_file():
        results = json.loads(results_path.read_text())
    else:
        tail = (proc.stdout or "")[-3000:] + (proc.stderr or "")[-3000:]
        results = {"tests": {}, "collection_errors": {module: tail}, "excluded": {}}
    return summarize(module, files, results, elapsed, scratch)


def summarize(module, files, results, elapsed, scratch):
    prefix = str(scratch / "kt") + os.sep

    def short(nodeid):
        return nodeid.replace(prefix, "").replace("kt/", "", 1)

    tests = {short(k): v for k, v in results["tests"].items()}
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for record in tests.values():
        counts[record["outcome"]] += 1
    return {
        "module": module, "files": files, **counts,
        "excluded": len(results["excluded"]),
        "collection_errors": {short(k): v for k, v in results["collection_errors"].items()},
        "seconds": round(elapsed, 1),
        "tests": tests,
        "excluded_tests": {short(k): v for k, v in results["excluded"].items()},
    }


def print_table(summaries, reference=None):
    header = f"{'module':24s} {'passed':>7s} {'failed':>7s} {'skipped':>8s} {'excluded':>9s}"
    if reference:
        header += f" {'keras passes':>13s}"
    print(header)
    totals = {"passed": 0, "failed": 0, "skipped": 0, "excluded": 0, "ref": 0}
    for s in summaries:
        line = (f"{s['module']:24s} {s['passed']:7d} {s['failed']:7d} {s['skipped']:8d} "
                f"{s['excluded']:9d}")
        for key in ("passed", "failed", "skipped", "excluded"):
            totals[key] += s[key]
        if reference:
            ref = reference.get(s["module"])
            line += f" {ref['passed'] if ref else '?':>13}"
            totals["ref"] += ref["passed"] if ref else 0
        if s["collection_errors"]:
            line += f"  ({len(s['collection_errors'])} file(s) failed to import)"
        print(line)
    line = (f"{'TOTAL':24s} {totals['passed']:7d} {totals['failed']:7d} {totals['skipped']:8d} "
            f"{totals['excluded']:9d}")
    if reference:
        line += f" {totals['ref']:>13d}"
    print(line)


def main(argv=None):
    args = parse_args(argv)
    src = keras_src_dir(args.keras_src)
    modules = args.modules or default_modules()
    reference = None
    if args.compare:
        reference = {s["module"]: s for s in json.loads(Path(args.compare).read_text())["modules"]}
    summaries = []
    with tempfile.TemporaryDirectory(prefix="keras_tests_") as tmp:
        scratch = Path(tmp)
        (scratch / "pytest.ini").write_text("[pytest]\n")
        for module, files in files_for(modules).items():
            summary = run_module(args, src, module, files, scratch)
            summaries.append(summary)
            print(f"{module}: {summary['passed']} passed, {summary['failed']} failed, "
                  f"{summary['skipped']} skipped, {summary['excluded']} excluded "
                  f"({summary['seconds']} s)", flush=True)
    print()
    print_table(summaries, reference)
    out = {"keras_version": keras_version(src),
           "against": "keras (reference)" if args.reference else "numnet",
           "modules": summaries}
    Path(args.out).write_text(json.dumps(out, indent=1, sort_keys=True))
    print(f"\nSummary written to {args.out}")
    failed = sum(s["failed"] + len(s["collection_errors"]) for s in summaries)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
