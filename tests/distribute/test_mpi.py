"""numnet.distribute on real MPI ranks: `mpirun -n 2` (and 4) from the test, bounded in time.

Skipped, saying why, only where mpi4py or an MPI launcher cannot be found
(`pip install 'numnet[mpi]'` brings both).
"""

import json
import re
import time

import numpy as np
import pytest

from mpi_runner import SCRIPTS, run_mpi

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _single_process_weights(kind):
    """The same training in this process, on the whole global batch."""
    import sys

    sys.path.insert(0, str(SCRIPTS))
    try:
        from common import GLOBAL_BATCH, Batches, data, model
    finally:
        sys.path.remove(str(SCRIPTS))
    import numnet as keras

    x, y = data()
    xv, yv = data(samples=96, seed=5)
    net = model(keras.optimizers.SGD(0.1, momentum=0.5))
    if kind == "arrays":
        history = net.fit(x, y, batch_size=GLOBAL_BATCH, epochs=2, verbose=0,
                          validation_data=(xv, yv))
    else:
        history = net.fit(Batches(x, y, GLOBAL_BATCH), epochs=2, verbose=0, shuffle=False,
                          validation_data=(xv, yv))
    return net.get_weights(), history.history


def _weights(path):
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


@pytest.mark.parametrize("ranks, mode, kind", [(2, "jit", "arrays"), (2, "eager", "arrays"),
                                               (4, "jit", "arrays"), (2, "jit", "pydataset")])
def test_ranks_train_like_one_process_on_the_global_batch(tmp_path, ranks, mode, kind):
    """Same initial weights, the global batch of 64 split over the ranks: after two epochs
    the weights agree with one process to 1e-6 (relative to each array's largest entry),
    every rank holds exactly the same weights, and the averaged logs match. Each step made
    exactly one allreduce, on the optimizer's flat gradient buffer, compiled or eager."""
    done = run_mpi("train_equal.py", ranks, tmp_path, mode, kind)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    expected, expected_history = _single_process_weights(kind)
    weights = [_weights(tmp_path / f"rank{r}.npz") for r in range(ranks)]
    for other in weights[1:]:
        for a, b in zip(weights[0], other):
            np.testing.assert_array_equal(a, b)
    for got, want in zip(weights[0], expected):
        assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want))
    saved = json.loads((tmp_path / "history.json").read_text())
    assert (saved["reason"] is None) == (mode == "jit")
    # one allreduce per step (8 steps x 2 epochs), in place, on the optimizer's flat gradient
    assert saved["allreduces"] == 16 and saved["all_in_the_flat_buffer"]
    assert saved["flat_size"] == sum(w.size for w in expected)
    for key, values in expected_history.items():
        np.testing.assert_allclose(saved["history"][key], values, rtol=1e-5, atol=1e-6)
    # one progress bar: rank 0's
    assert done.stdout.count("Epoch 1/2") == 1
    # the saved model holds an ordinary Keras optimizer, with its state
    import zipfile

    import numnet as keras

    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        optimizer = json.loads(archive.read("config.json"))["compile_config"]["optimizer"]
    assert (optimizer["module"], optimizer["class_name"]) == ("keras.optimizers", "SGD")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded.optimizer) is keras.optimizers.SGD
    assert int(loaded.optimizer.iterations.numpy()) == 16


@pytest.mark.parametrize("mode, message", [
    ("raise", r"numnet\.distribute: rank 0 of 2 stops: rank 1 of 2 failed in fit with "
              r"ArithmeticError: rank 1 broke on purpose \(rank 0 was waiting in the gradient "
              r"allreduce of step 7\)"),
    ("hang", r"numnet\.distribute: rank 0 of 2 stops: rank\(s\) \[1\] of 2 did not reach the "
             r"gradient allreduce of step 7 within 3 s"),
    ("kill", r"process rank 1 .* exited on\s+signal 9"),
    ("mismatch-model", r"rank 1's model weights \(shapes\) \[\(\(8, 21\), '<f4'\), "
                       r"\(\(21,\), '<f4'\), .* differs from rank 0's \[\(\(8, 20\)"),
    ("mismatch-data", r"rank 1's steps per epoch 34 differs from rank 0's 32"),
])
def test_a_failing_rank_ends_the_job_with_an_error_naming_it(mode, message):
    start = time.monotonic()
    done = run_mpi("faults.py", 2, mode, timeout=90)
    elapsed = time.monotonic() - start
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-3000:]
    assert re.search(message, output), output[-4000:]
    assert "finished" not in done.stdout
    assert elapsed < 60


def test_resuming_with_the_same_ranks_ends_like_an_uninterrupted_run(tmp_path):
    """Rank 0 writes the backup, the checkpoint and the CSV log (once per epoch); a run
    interrupted at epoch 3 and started again ends with the uninterrupted run's weights."""
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    straight.mkdir()
    broken.mkdir()
    done = run_mpi("resume.py", 2, straight, straight / "backup", "run")
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("Epoch 1/4") == 1
    assert len((straight / "log.csv").read_text().strip().splitlines()) == 1 + 4
    assert (straight / "last.weights.h5").exists()
    assert not (straight / "backup").exists()  # deleted at the end, by rank 0

    done = run_mpi("resume.py", 2, broken, broken / "backup", "interrupt")
    assert done.returncode != 0 and "KeyboardInterrupt" in done.stderr
    assert (broken / "backup" / "training_metadata.json").exists()
    done = run_mpi("resume.py", 2, broken, broken / "backup", "run")
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Epoch 3/4" in done.stdout and "Epoch 1/4" not in done.stdout
    for rank in range(2):
        for a, b in zip(_weights(straight / f"rank{rank}.npz"),
                        _weights(broken / f"rank{rank}.npz")):
            np.testing.assert_array_equal(a, b)
    rows = (broken / "log.csv").read_text().strip().splitlines()
    assert [row.split(",")[0] for row in rows] == ["epoch", "0", "1", "2", "3"]


def test_the_mpi_example_runs_on_two_ranks(tmp_path):
    """`mpirun -n 2 python examples/train_fashion_mnist_mpi.py` (offline: the shipped sample)."""
    from mpi_runner import ROOT

    done = run_mpi(ROOT / "examples" / "train_fashion_mnist_mpi.py", 2, "--epochs", "2",
                   "--checkpoint", tmp_path / "w.weights.h5", timeout=180,
                   env={"NUMNET_OFFLINE": "1", "NUMNET_ALLOW_SAMPLE": "1", "NUMNET_DATA": None,
                        "NUMNET_HOME": str(tmp_path / "home"), "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("Epoch 2/2") == 1 and "on 2 ranks" in done.stdout
    assert "finished gradual learning rate warmup to 0.02" in done.stdout
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", done.stdout).group(1))
    assert accuracy > 0.5, done.stdout
    assert (tmp_path / "w.weights.h5").exists()


def test_shard_dataset_splits_its_chunks_by_rank(tmp_path):
    """Each rank reads its own CSV chunks (disjoint rows), every rank takes the same number of
    steps, and the ranks train one model (the same weights)."""
    folder = tmp_path / "csv"
    folder.mkdir()
    rows = np.arange(300)
    for part, chunk in enumerate(np.array_split(rows, 3)):
        lines = ["id,a,y"] + [f"{i},{np.sin(i):.6f},{np.cos(i):.6f}" for i in chunk]
        (folder / f"part-{part}.csv").write_text("\n".join(lines) + "\n")
    done = run_mpi("shards.py", 2, folder, tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["steps"] == ranks[1]["steps"]
    assert not set(ranks[0]["ids"]) & set(ranks[1]["ids"])
    assert len(ranks[0]["ids"]) + len(ranks[1]["ids"]) >= 300 - 2 * 16
    assert ranks[0]["weights"] == ranks[1]["weights"] and ranks[0]["loss"] == ranks[1]["loss"]
    assert np.all(np.isfinite(ranks[0]["loss"])) and ranks[0]["loss"][1] < ranks[0]["loss"][0]
