"""Groups the failures of a `run.py` summary by cause, to read or to update FAILURES.md.

    python tools/keras_tests/failures.py summary.json [--modules functional model]

For each module, prints each distinct failure (the last line of its message, with object
addresses blanked) with how many tests share it and one of them. Missing Keras names
(`NotInNumnet`) are grouped by the name.
"""

import argparse
import collections
import json
import re
import sys

_ADDRESS = re.compile(r"0x[0-9a-f]+|\b\d{9,}\b")


def cause(message):
    """A short key for a failure message: the missing Keras name, or the last error line."""
    missing = re.search(r"numnet has no equivalent of ([\w.]+)", message or "")
    if missing:
        return f"missing: {missing.group(1)}"
    lines = [line for line in (message or "").splitlines() if line.strip()]
    last = lines[-1] if lines else "(no message)"
    return _ADDRESS.sub("…", last.removeprefix("E").strip())[:200]


def group(summary, modules=None):
    """{module: [(cause, count, example test), ...]} sorted by count."""
    result = {}
    for entry in summary["modules"]:
        if modules and entry["module"] not in modules:
            continue
        counts, examples = collections.Counter(), {}
        for test, record in entry["tests"].items():
            if record["outcome"] == "failed":
                key = cause(record.get("message"))
                counts[key] += 1
                examples.setdefault(key, test)
        for path, message in entry["collection_errors"].items():
            counts[f"file failed to import: {cause(message)}"] += 1
            examples.setdefault(f"file failed to import: {cause(message)}", path)
        result[entry["module"]] = [(key, n, examples[key]) for key, n in counts.most_common()]
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("summary")
    parser.add_argument("--modules", nargs="*")
    args = parser.parse_args(argv)
    with open(args.summary, encoding="utf-8") as f:
        summary = json.load(f)
    for module, causes in group(summary, args.modules).items():
        print(f"== {module}")
        for key, n, example in causes:
            print(f"{n:4d}  {key}\n      e.g. {example}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
