"""Atomic saves: leftovers of killed saves are cleaned on the next save, and only those."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from numnet.saving import atomic

fcntl = pytest.importorskip("fcntl", reason="POSIX only: flock and SIGKILL")

OLD = time.time() - 3600


def _leftover(folder, name, age=OLD):
    path = folder / name
    path.write_bytes(b"partial save")
    os.utime(path, (age, age))
    return path


def test_stale_leftovers_of_the_same_target_are_removed(tmp_path):
    stale = [_leftover(tmp_path, ".m.keras.abcd1234.tmp"),
             _leftover(tmp_path, ".m.keras.z_9y8x7w.tmp")]
    atomic.atomic_write_bytes(tmp_path / "m.keras", b"new")
    assert not any(path.exists() for path in stale)
    assert (tmp_path / "m.keras").read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]


def test_other_files_are_never_touched(tmp_path):
    keep = [
        _leftover(tmp_path, ".other.keras.abcd1234.tmp"),   # another target's
        _leftover(tmp_path, ".m.keras.abc.tmp"),            # not mkstemp's name
        _leftover(tmp_path, ".m.keras.ABCD1234.tmp"),
        _leftover(tmp_path, ".m.keras.abcd1234.tmp.bak"),
        _leftover(tmp_path, "m.keras.abcd1234.tmp"),
        _leftover(tmp_path, ".m.keras.abcd1234.tmp", age=time.time()),  # fresh: maybe live
    ]
    (tmp_path / ".m.keras.link1234.tmp").symlink_to(tmp_path / "m.keras.abcd1234.tmp")
    (tmp_path / ".m.keras.dir12345.tmp").mkdir()
    atomic.atomic_write_bytes(tmp_path / "m.keras", b"new")
    assert all(path.exists() for path in keep)
    assert (tmp_path / ".m.keras.link1234.tmp").is_symlink()
    assert (tmp_path / ".m.keras.dir12345.tmp").is_dir()


def test_a_locked_leftover_is_a_live_save_and_stays(tmp_path):
    live = _leftover(tmp_path, ".m.keras.live1234.tmp")
    with open(live, "rb") as handle:  # a save in progress holds this lock
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        atomic.atomic_write_bytes(tmp_path / "m.keras", b"new")
        assert live.exists()
    assert atomic.remove_stale_temporaries(tmp_path / "m.keras") == [live.name]


_SLOW_SAVER = textwrap.dedent("""
    import sys, time
    from numnet.saving import atomic
    target, ready, go = sys.argv[1:4]
    with atomic.atomic_write(target) as handle:
        handle.write(b"first half ")
        handle.flush()
        open(ready, "w").close()
        while not __import__("os").path.exists(go):
            time.sleep(0.01)
        handle.write(b"second half")
""")


def test_a_concurrent_save_in_another_process_is_not_disturbed(tmp_path):
    target = tmp_path / "m.keras"
    ready, go = tmp_path / "ready", tmp_path / "go"
    child = subprocess.Popen([sys.executable, "-c", _SLOW_SAVER, str(target), str(ready), str(go)])
    try:
        deadline = time.time() + 60
        while not ready.exists():
            assert time.time() < deadline and child.poll() is None, "the child did not start"
            time.sleep(0.01)
        (theirs,) = [p for p in tmp_path.iterdir() if p.name.startswith(".m.keras.")]
        os.utime(theirs, (OLD, OLD))  # as if that save had been writing for an hour
        atomic.atomic_write_bytes(target, b"ours")
        assert theirs.exists()
        go.touch()
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
    assert target.read_bytes() == b"first half second half"  # the later rename wins
    assert sorted(p.name for p in tmp_path.iterdir()) == ["go", "m.keras", "ready"]


_KILLED_SAVER = textwrap.dedent("""
    import os, signal, sys
    from numnet.saving import atomic
    with atomic.atomic_write(sys.argv[1]) as handle:
        handle.write(b"x" * 100000)
        handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)
""")


def test_leftovers_of_killed_saves_are_cleaned_on_the_next_save(tmp_path):
    target = tmp_path / "m.keras"
    atomic.atomic_write_bytes(target, b"good")
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", _KILLED_SAVER, str(target)], check=False)
        assert done.returncode == -signal.SIGKILL
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 3 and target.read_bytes() == b"good"
    atomic.atomic_write_bytes(target, b"newer")  # too fresh to be provably abandoned
    assert all(p.exists() for p in leftovers)
    for path in leftovers:
        os.utime(path, (OLD, OLD))
    atomic.atomic_write_bytes(target, b"newest")
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]
    assert target.read_bytes() == b"newest"
