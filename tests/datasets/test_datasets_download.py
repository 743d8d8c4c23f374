"""Tests for numnet.datasets._download: lookup, cache, resumable downloads."""

import hashlib
import os
import warnings

import pytest

from numnet.datasets import _download

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes
PAYLOAD_HASH = hashlib.sha256(PAYLOAD).hexdigest()
NAME = "payload.bin"


def _cache_path(sub="demo"):
    return os.path.join(_download.cache_dir(), sub, NAME)


def _get(server, **kwargs):
    kwargs.setdefault("verbose", False)
    return _download.get_file(
        NAME, server.url(NAME), PAYLOAD_HASH, "demo", **kwargs
    )


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def test_cache_dir_follows_numnet_home(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMNET_HOME", str(tmp_path / "h"))
    assert _download.cache_dir() == str(tmp_path / "h" / "datasets")
    monkeypatch.delenv("NUMNET_HOME")
    assert _download.cache_dir() == os.path.join(
        os.path.expanduser("~"), ".numnet", "datasets"
    )


@pytest.mark.parametrize("subfolder", [True, False])
def test_numnet_data_folder_direct_or_in_subfolder(
    tmp_path, monkeypatch, subfolder
):
    folder = tmp_path / "data" / ("demo" if subfolder else "")
    folder.mkdir(parents=True)
    (folder / NAME).write_bytes(PAYLOAD)
    monkeypatch.setenv(
        "NUMNET_DATA",
        str(tmp_path / "nothing") + os.pathsep + str(tmp_path / "data"),
    )
    found = _download.get_file(NAME, None, PAYLOAD_HASH, "demo")
    assert found == str(folder / NAME)


def test_path_argument_searched_first(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / NAME).write_bytes(PAYLOAD)
    (tmp_path / "b" / NAME).write_bytes(PAYLOAD)
    monkeypatch.setenv("NUMNET_DATA", str(tmp_path / "b"))
    found = _download.get_file(
        NAME, None, PAYLOAD_HASH, "demo", path=tmp_path / "a"
    )
    assert found == str(tmp_path / "a" / NAME)


def test_missing_path_folder_names_the_argument(tmp_path):
    with pytest.raises(FileNotFoundError, match="path=.*nope"):
        _download.get_file(
            NAME, None, PAYLOAD_HASH, "demo", path=tmp_path / "nope"
        )


@pytest.mark.parametrize(
    "content", [PAYLOAD[:-1], b"x" + PAYLOAD[1:]], ids=["truncated", "corrupt"]
)
def test_corrupt_or_truncated_local_copy_is_an_error(
    tmp_path, monkeypatch, content
):
    (tmp_path / NAME).write_bytes(content)
    monkeypatch.setenv("NUMNET_DATA", str(tmp_path))
    with pytest.raises(_download.ChecksumError, match=PAYLOAD_HASH) as info:
        _download.get_file(NAME, None, PAYLOAD_HASH, "demo")
    assert str(tmp_path / NAME) in str(info.value)
    assert (tmp_path / NAME).read_bytes() == content  # the user's file stays


def test_offline_without_copy_is_a_clear_error():
    with pytest.raises(
        _download.DatasetUnavailableError, match="NUMNET_OFFLINE"
    ) as info:
        _download.get_file(
            NAME, "http://example.invalid/x", PAYLOAD_HASH, "demo"
        )
    assert info.value.fname == NAME


def test_unavailable_message_says_which_files_go_where():
    text = _download.unavailable_message(
        "Demo", "demo", ["a.gz", "b.gz"], "offline"
    )
    assert "a.gz" in text and "b.gz" in text
    assert os.path.join("DIR", "demo") in text
    assert "NUMNET_DATA=DIR" in text
    assert os.path.join(_download.cache_dir(), "demo") in text


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"file_hash": "abc"}, "file_hash='abc'"),
        ({"fname": "../x"}, "fname='../x'"),
        ({"retries": -1}, "retries=-1"),
    ],
)
def test_argument_errors_name_the_value(kwargs, match):
    args = {"fname": NAME, "origin": None, "file_hash": PAYLOAD_HASH}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        _download.get_file(**args)


def test_env_flag_rejects_unknown_values(monkeypatch):
    monkeypatch.setenv("NUMNET_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="NUMNET_OFFLINE='maybe'"):
        _download.offline()


def test_download_into_cache(http_server):
    http_server.state.files["/" + NAME] = PAYLOAD
    path = _get(http_server)
    assert path == _cache_path()
    assert _read(path) == PAYLOAD
    assert not os.path.exists(path + ".part")
    # Second call: served from the cache, no new request.
    assert _get(http_server) == path
    assert len(http_server.state.requests) == 1


def test_falls_back_to_next_origin(http_server):
    http_server.state.files["/mirror/" + NAME] = PAYLOAD
    path = _download.get_file(
        NAME,
        [http_server.url("missing/" + NAME), http_server.url("mirror/" + NAME)],
        PAYLOAD_HASH,
        "demo",
        verbose=False,
    )
    assert _read(path) == PAYLOAD
    assert [r[2] for r in http_server.state.requests] == [404, 200]


def test_numnet_datasets_url_replaces_origins(http_server, monkeypatch):
    http_server.state.files["/m/" + NAME] = PAYLOAD
    monkeypatch.setenv("NUMNET_DATASETS_URL", http_server.url("m/"))
    path = _download.get_file(
        NAME,
        "http://example.invalid/never",
        PAYLOAD_HASH,
        "demo",
        verbose=False,
    )
    assert _read(path) == PAYLOAD


def test_interrupted_transfer_is_resumed_with_range(http_server, capsys):
    http_server.state.files["/" + NAME] = PAYLOAD
    http_server.state.cuts["/" + NAME] = [30_000]
    path = _get(http_server, verbose=True)
    assert _read(path) == PAYLOAD
    ranges = [(r[1], r[2]) for r in http_server.state.requests]
    assert ranges == [(None, 200), ("bytes=30000-", 206)]
    assert "Resuming at byte 30,000" in capsys.readouterr().err


def test_server_ignoring_range_restarts(http_server):
    http_server.state.files["/" + NAME] = PAYLOAD
    http_server.state.cuts["/" + NAME] = [30_000]
    http_server.state.honor_range = False
    path = _get(http_server)
    assert _read(path) == PAYLOAD
    ranges = [(r[1], r[2]) for r in http_server.state.requests]
    assert ranges == [(None, 200), ("bytes=30000-", 200)]


def test_failed_transfer_leaves_no_final_file_then_resumes(http_server):
    http_server.state.files["/" + NAME] = PAYLOAD
    http_server.state.cuts["/" + NAME] = [10_000, 10_000]
    with pytest.raises(_download.DatasetUnavailableError, match="interrupted"):
        _get(http_server, retries=1)
    final = _cache_path()
    assert not os.path.exists(final)  # atomic: nothing under the final name
    assert os.path.getsize(final + ".part") == 20_000
    # A later call resumes the partial file.
    assert _read(_get(http_server)) == PAYLOAD
    assert http_server.state.requests[-1][1:] == ("bytes=20000-", 206)
    assert not os.path.exists(final + ".part")


def test_complete_part_file_is_finished_after_416(http_server):
    http_server.state.files["/" + NAME] = PAYLOAD
    os.makedirs(os.path.dirname(_cache_path()))
    with open(_cache_path() + ".part", "wb") as f:
        f.write(PAYLOAD)
    assert _read(_get(http_server)) == PAYLOAD
    assert [r[2] for r in http_server.state.requests] == [416]


def test_stale_part_file_is_discarded_and_restarted(http_server):
    http_server.state.files["/" + NAME] = PAYLOAD
    os.makedirs(os.path.dirname(_cache_path()))
    with open(_cache_path() + ".part", "wb") as f:
        f.write(b"garbage from some other file")
    assert _read(_get(http_server)) == PAYLOAD
    assert [r[1] is None for r in http_server.state.requests] == [False, True]


def test_checksum_mismatch_is_reported_and_nothing_kept(http_server):
    http_server.state.files["/" + NAME] = PAYLOAD[::-1]
    with pytest.raises(
        _download.DatasetUnavailableError, match="sha256"
    ) as info:
        _get(http_server)
    assert PAYLOAD_HASH in str(info.value)
    assert os.listdir(os.path.dirname(_cache_path())) == []


def test_corrupt_cached_file_is_deleted_and_downloaded_again(http_server):
    http_server.state.files["/" + NAME] = PAYLOAD
    os.makedirs(os.path.dirname(_cache_path()))
    with open(_cache_path(), "wb") as f:
        f.write(PAYLOAD[:1000])
    with pytest.warns(UserWarning, match="corrupt.*downloaded again"):
        path = _get(http_server)
    assert _read(path) == PAYLOAD


def test_corrupt_cached_file_offline_is_deleted_and_reported(monkeypatch):
    os.makedirs(os.path.dirname(_cache_path()))
    with open(_cache_path(), "wb") as f:
        f.write(b"bad")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with pytest.raises(_download.DatasetUnavailableError):
            _download.get_file(NAME, None, PAYLOAD_HASH, "demo")
    assert not os.path.exists(_cache_path())


def test_unwritable_cache_falls_back_to_temp_folder(
    http_server, monkeypatch, tmp_path
):
    blocker = tmp_path / "file_not_folder"
    blocker.write_bytes(b"")
    monkeypatch.setenv("NUMNET_HOME", str(blocker))
    http_server.state.files["/" + NAME] = PAYLOAD
    with pytest.warns(UserWarning, match="not writable"):
        path = _get(http_server)
    assert path.startswith(str(tmp_path / "tmp_cache"))
    assert _get(http_server) == path  # found again without a download
