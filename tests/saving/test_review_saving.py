"""Review regressions: HDF5 links above the datasets, file permissions of atomic saves."""

import os
import stat
import sys

import h5py
import numpy as np
import pytest

import numnet as keras


def _model():
    return keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])


def test_external_link_to_a_group_is_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        group = f.create_group("dense/vars")
        group.create_dataset("0", data=np.full((3, 2), 7.0, "float32"))
        group.create_dataset("1", data=np.ones(2, "float32"))
    evil = tmp_path / "evil.weights.h5"
    with h5py.File(evil, "w") as f:
        f.create_group("vars")
        f["layers"] = h5py.ExternalLink(str(other), "/")
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match="link"):
        model.load_weights(str(evil))
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_saved_files_get_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        model = _model()
        model.save_weights(str(tmp_path / "w.weights.h5"))
        model.save(str(tmp_path / "m.keras"))
    finally:
        os.umask(umask)
    for name in ("w.weights.h5", "m.keras"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o644
