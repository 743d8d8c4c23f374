"""Every snippet of README.md works as written.

Each ```python block runs, unchanged and in a fresh process, offline: the
dataset loaders find no data and fall back to the sample shipped with numnet
(that keeps the Quickstart's 30 epochs to seconds). Each ```bash line is
checked without being run: `numnet` commands parse with the command's own
argument parser, example scripts exist and accept the options used, pip
extras exist in pyproject.toml.
"""

import os
import re
import shlex
import subprocess
import sys

import pytest

from numnet import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


def _blocks(language):
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


PYTHON = _blocks("python")
BASH = _blocks("bash")


def test_the_readme_has_snippets():
    assert len(PYTHON) >= 3 and len(BASH) >= 3


@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_python_snippet_runs(index, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMNET_DATA"}
    env.update(NUMNET_OFFLINE="1", NUMNET_ALLOW_SAMPLE="1", NUMNET_HOME=str(tmp_path / "home"),
               PYTHONPATH=os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")])),
               OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-c", PYTHON[index]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"README python block {index} failed:\n{PYTHON[index]}\n" \
                                 f"{done.stderr[-3000:]}"


def _commands():
    for block in BASH:
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            for command in filter(None, (part.strip() for part in line.split("&&"))):
                yield shlex.split(command)


def _check_command(argv):
    """Raises AssertionError if `argv` (one README command) could not run as written."""
    if argv[0] == "numnet":
        cli.build_parser().parse_args(argv[1:])  # SystemExit on an unknown option
        return
    assert argv[0] == "python3", f"unknown command in the README: {argv}"
    if argv[1:4] == ["-m", "pip", "install"]:
        target = argv[-1]
        assert target.startswith("."), argv
        extras = re.findall(r"\[(.*)\]", target)
        with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as handle:
            pyproject = handle.read()
        for extra in (extras[0].split(",") if extras else []):
            assert re.search(rf"^{extra.strip()} = \[", pyproject, flags=re.M), extra
        return
    if argv[1:3] == ["-m", "pytest"]:
        __import__("pytest")
        return
    script = os.path.join(ROOT, argv[1])
    assert os.path.isfile(script), f"the README runs {argv[1]}, which does not exist"
    done = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True,
                          timeout=120, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    for option in (a for a in argv[2:] if a.startswith("--")):
        assert option in done.stdout, f"{argv[1]} has no {option} option"


def test_bash_commands_exist():
    commands = list(_commands())
    assert any(c[0] == "numnet" for c in commands)
    for argv in commands:
        try:
            _check_command(argv)
        except SystemExit as error:
            raise AssertionError(f"README command does not parse: {shlex.join(argv)}") from error
