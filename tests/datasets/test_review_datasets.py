"""Review: concurrent downloads of the same file into the same cache."""

import hashlib
import os
import threading

from numnet.datasets import _download

BIG = bytes(range(256)) * 8192  # 2 MiB
BIG_HASH = hashlib.sha256(BIG).hexdigest()


def test_concurrent_downloads_of_one_file_all_succeed(http_server, monkeypatch):
    monkeypatch.setattr(_download, "CHUNK_SIZE", 4096)
    http_server.state.files["/big.bin"] = BIG
    barrier = threading.Barrier(6)
    results, errors = [], []

    def worker():
        barrier.wait()
        try:
            results.append(_download.get_file(
                "big.bin", http_server.url("big.bin"), BIG_HASH, "demo", verbose=False))
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(set(results)) == 1
    with open(results[0], "rb") as f:
        assert f.read() == BIG
    assert not os.path.exists(results[0] + ".part")
