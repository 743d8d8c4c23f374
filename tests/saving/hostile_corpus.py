"""Builds a corpus of hostile model files, for `test_hostile_files.py` (or by hand).

    python tests/saving/hostile_corpus.py OUT_FOLDER

writes every case into OUT_FOLDER (a few MB in all; the tests build it in a
temporary folder, nothing is committed). Each case is a file (or folder, FIFO,
device path) and the call that must refuse it: `load_model`, `load_weights`
into `target_model()`, or the `numnet summary` command.

Files that reach outside themselves point at a canary: `canary.bin` holds
float32 values of `CANARY_VALUE` and `canary.h5` a dataset of them. Every such
file is a complete, well-formed model whose weights would be the canary's
bytes if the reference were followed, which `corpus_is_potent` confirms with
plain h5py. The `_fifo` variants point at a FIFO instead: following the
reference would block, which the tests' timeout turns into a failure.
"""

import io
import json
import os
import struct
import sys
import warnings
import zipfile
import zlib
from dataclasses import dataclass

import h5py
import numpy as np

import numnet as keras

CANARY_VALUE = 1234.5
SHAPE = (4, 3)  # the first kernel of `target_model()`


@dataclass
class Case:
    """A hostile file and how it must be refused."""
    name: str
    path: str
    call: str  # "load_model", "load_weights" or "cli_summary"
    error: str  # the exception type name expected
    match: str  # a regular expression the message must match


def target_model():
    """The model every hostile weights file is made for: Dense(3) then Dense(2) on 4 inputs."""
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, name="dense"),
                              keras.layers.Dense(2, name="dense_1")], name="target")
    model.compile(optimizer="sgd", loss="mse")
    return model


# -------------------------------------------------------------- building blocks
def _canaries(folder):
    values = np.full(SHAPE, CANARY_VALUE, dtype="float32")
    with open(os.path.join(folder, "canary.bin"), "wb") as handle:
        handle.write(values.tobytes())
    with h5py.File(os.path.join(folder, "canary.h5"), "w") as h5file:
        h5file.create_dataset("data", data=values)
    fifo = os.path.join(folder, "canary_fifo")
    os.mkfifo(fifo)
    return {"bin": os.path.join(folder, "canary.bin"), "h5": os.path.join(folder, "canary.h5"),
            "fifo": fifo}


def _good_files(folder):
    model = target_model()
    model.save(os.path.join(folder, "good.keras"))
    model.save_weights(os.path.join(folder, "good.weights.h5"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the legacy-format warning
        model.save(os.path.join(folder, "good.h5"))
    with zipfile.ZipFile(os.path.join(folder, "good.keras")) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _edit_h5_bytes(data, edit):
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as h5file:
        edit(h5file)
    return buffer.getvalue()


def _edit_h5_file(src, dst, edit):
    with open(src, "rb") as handle:
        data = handle.read()
    with open(dst, "wb") as handle:
        handle.write(_edit_h5_bytes(data, edit))


def _replace(group, key, make):
    del group[key]
    make(group, key)


def _external_storage(target):
    def make(group, key):
        group.create_dataset(key, shape=SHAPE, dtype="float32",
                             external=[(target, 0, int(np.prod(SHAPE)) * 4)])
    return make


def _virtual(target):
    def make(group, key):
        layout = h5py.VirtualLayout(shape=SHAPE, dtype="float32")
        layout[...] = h5py.VirtualSource(target, "data", shape=SHAPE)
        group.create_virtual_dataset(key, layout, fillvalue=0)
    return make


def _external_link(target):
    def make(group, key):
        group[key] = h5py.ExternalLink(target, "/data")
    return make


def _soft_link(group, key):
    stash = group.file.create_dataset("stash", data=np.full(SHAPE, CANARY_VALUE, "float32"))
    group[key] = h5py.SoftLink(stash.name)


def _plugin_filter(group, key):
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(SHAPE)
    dcpl.set_filter(32004, h5py.h5z.FLAG_OPTIONAL, ())  # LZ4: a plugin, not built in
    space = h5py.h5s.create_simple(SHAPE)
    h5py.h5d.create(group.id, key.encode(), h5py.h5t.NATIVE_FLOAT, space, dcpl=dcpl)
    group[key][...] = np.full(SHAPE, CANARY_VALUE, "float32")


def _shape_bomb(group, key):
    # Declares 40 GB; chunked and compressed, it is a few KB on disk.
    group.create_dataset(key, shape=(100_000, 100_000), dtype="float32", chunks=(1000, 1000),
                         compression="gzip")


# Where the first kernel lives in each format.
KERAS_KERNEL = ("layers/dense/vars", "0")
LEGACY_KERNEL = ("model_weights/dense/target/dense", "kernel")


def _in_group(where, make):
    def edit(h5file):
        _replace(h5file[where[0]], where[1], make)
    return edit


def _deflate_zeros(n_mib):
    """A raw deflate stream of `n_mib` MiB of zeros, made without compressing them all."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1024 ** 2)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * n_mib + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def _zip_with_raw_member(path, members, raw_name, raw_stream, declared_size):
    """A zip whose member `raw_name` is `raw_stream` (deflate) declaring `declared_size` bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            if name != raw_name:
                archive.writestr(name, data)
        info = zipfile.ZipInfo(raw_name)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, b"placeholder")
    with open(path, "rb") as handle:
        data = handle.read()
    # Rebuild by hand: local header + stream, then the central directory.
    entries, out = [], bytearray()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.filename == raw_name:
                payload, method, size, crc = raw_stream, 8, declared_size, 0
            else:
                payload = archive.read(info)
                method, size, crc = 0, len(payload), zlib.crc32(payload)
            name = info.filename.encode()
            entries.append((name, method, crc, len(payload), size, len(out)))
            out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc,
                               len(payload), size, len(name), 0) + name + payload
    directory = bytearray()
    for name, method, crc, stored, size, offset in entries:
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0,
                                 crc, stored, size, len(name), 0, 0, 0, 0, 0, offset) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                      len(directory), len(out), 0)
    with open(path, "wb") as handle:
        handle.write(bytes(out + directory + end))


def _config_with(members, mutate):
    config = json.loads(members["config.json"])
    mutate(config)
    return {**members, "config.json": json.dumps(config).encode()}


def _deep_json(depth):
    return ("[" * depth + "]" * depth).encode()


def _set_legacy_attr(path, key, value):
    with h5py.File(path, "r+") as h5file:
        h5file.attrs[key] = value


# ------------------------------------------------------------------- the corpus
class _Builder:
    """Writes the cases of one family at a time into `folder` (see `build_corpus`)."""

    def __init__(self, folder):
        self.folder = folder
        self.canary = _canaries(folder)
        self.members = _good_files(folder)
        self.weights = self.members["model.weights.h5"]
        self.cases = []

    def p(self, name):
        return os.path.join(self.folder, name)

    def add(self, name, call, error, match, path=None):
        self.cases.append(Case(name, path or self.p(name), call, error, match))

    def read(self, name):
        with open(self.p(name), "rb") as handle:
            return handle.read()

    def write(self, name, data):
        with open(self.p(name), "wb") as handle:
            handle.write(data)

    def keras_with(self, name, **members):
        _write_zip(self.p(name), {**self.members, **members})

    def outside_the_file(self):
        """HDF5 features reaching outside the file, in `.keras`, `.weights.h5` and `.h5`."""
        canary = self.canary
        outside = {"external_storage": (_external_storage(canary["bin"]), "external Dataset"),
                   "external_storage_fifo": (_external_storage(canary["fifo"]),
                                             "external Dataset"),
                   "virtual_dataset": (_virtual(canary["h5"]), "virtual Dataset"),
                   "virtual_dataset_fifo": (_virtual(canary["fifo"]), "virtual Dataset"),
                   "external_link": (_external_link(canary["h5"]), "ExternalLink"),
                   "external_link_fifo": (_external_link(canary["fifo"]), "ExternalLink"),
                   "soft_link": (_soft_link, "SoftLink"),
                   "plugin_filter": (_plugin_filter, "filter 32004"),
                   "shape_bomb": (_shape_bomb, r"shape \(100000, 100000\)")}
        for kind, (make, match) in outside.items():
            edited = _edit_h5_bytes(self.weights, _in_group(KERAS_KERNEL, make))
            self.keras_with(f"{kind}.keras", **{"model.weights.h5": edited})
            self.add(f"{kind}.keras", "load_model", "ValueError", match)
            self.write(f"{kind}.weights.h5", edited)
            self.add(f"{kind}.weights.h5", "load_weights", "ValueError", match)
            _edit_h5_file(self.p("good.h5"), self.p(f"{kind}.h5"), _in_group(LEGACY_KERNEL, make))
            self.add(f"{kind}.h5", "load_model", "ValueError", match)

    def lying_zip_members(self):
        """Zip members that lie about their size, or inflate past any legitimate size."""
        _zip_with_raw_member(self.p("bomb_declared.keras"), self.members, "model.weights.h5",
                             _deflate_zeros(64), 3 * 1024 ** 3)
        self.add("bomb_declared.keras", "load_model", "ValueError", "declares 3.0 GiB")
        _zip_with_raw_member(self.p("bomb_config.keras"), self.members, "config.json",
                             _deflate_zeros(256), 1024 ** 2)
        self.add("bomb_config.keras", "load_model", "ValueError", "corrupt|not valid JSON")
        # A 3-million-weight model: its weights may legitimately take ~144 MB, so a member
        # declaring 60 MiB is read, and must stop at the end it declares.
        big = _config_with(self.members, lambda c: c["config"]["layers"][2]["config"].update(
            units=1_000_000))
        _zip_with_raw_member(self.p("bomb_lying.keras"), big, "model.weights.h5",
                             _deflate_zeros(3 * 1024), 60 * 1024 ** 2)
        self.add("bomb_lying.keras", "load_model", "ValueError", "corrupt|Bad CRC")
        _zip_with_raw_member(self.p("bomb_ratio.keras"), big, "model.weights.h5",
                             _deflate_zeros(100), 90 * 1024 ** 2)
        self.add("bomb_ratio.keras", "load_model", "ValueError", "declares 90.0 MiB")
        padded = {**self.members, "model.weights.h5": self.weights + bytes(3 * 1024 ** 2)}
        _write_zip(self.p("weights_too_big.keras"), padded, compression=zipfile.ZIP_DEFLATED)
        self.add("weights_too_big.keras", "load_model", "ValueError", "derived from the weights")

    def hostile_configs(self):
        """Configs: depth, numbers, sizes, classes naming code."""
        config = self.members["config.json"]
        self.keras_with("deep_json.keras", **{"config.json": _deep_json(100_000)})
        self.add("deep_json.keras", "load_model", "ValueError", "nests too deeply")
        self.keras_with("deep_json_900.keras", **{"config.json": _deep_json(900)})
        self.add("deep_json_900.keras", "load_model", "ValueError", "nests more than 200")
        huge = config.replace(b'"units": 3', b'"units": ' + b"9" * 100_000)
        self.keras_with("huge_int.keras", **{"config.json": huge})
        self.add("huge_int.keras", "load_model", "ValueError", "not valid JSON")
        edits = {
            "huge_units.keras": (lambda c: c["config"]["layers"][1]["config"].update(
                units=2 ** 40), "does not fit in memory|could not rebuild"),
            "os_system.keras": (lambda c: c["config"]["layers"][1].update(
                module="os", class_name="system"), "system"),
            "eval_loss.keras": (lambda c: c["compile_config"].update(loss={
                "module": "builtins", "class_name": "function", "config": "eval",
                "registered_name": "eval"}), "eval"),
            "lambda.keras": (lambda c: c["config"]["layers"].insert(1, {
                "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                "config": {"name": "l", "function": {"class_name": "__lambda__",
                                                     "config": {"code": "4wEAAAAAAAAA"}}}}),
                "safe_mode"),
            "subprocess_layer.keras": (lambda c: c["config"]["layers"].__setitem__(1, {
                "module": "subprocess", "class_name": "Popen", "registered_name": None,
                "config": {"args": ["touch", self.p("pwned")]}}), "Popen"),
        }
        for name, (mutate, match) in edits.items():
            _write_zip(self.p(name), _config_with(self.members, mutate))
            self.add(name, "load_model", "ValueError", match)

    def archive_structure(self):
        """Archive structure: paths out of the archive, duplicates, indexes, truncation."""
        self.keras_with("traversal.keras", **{"../../evil.txt": b"x"})
        self.add("traversal.keras", "load_model", "ValueError", "escapes the archive")
        self.keras_with("absolute.keras", **{"/etc/evil": b"x"})
        self.add("absolute.keras", "load_model", "ValueError", "escapes the archive")
        with zipfile.ZipFile(self.p("duplicate.keras"), "w") as archive:
            for name, data in self.members.items():
                archive.writestr(name, data)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name"
                archive.writestr("config.json", b"{}")
        self.add("duplicate.keras", "load_model", "ValueError", "appears twice")
        data = self.read("good.keras")
        end = data.rfind(b"PK\x05\x06")
        self.write("many_members.keras",
                   data[:end + 8] + struct.pack("<HH", 65535, 65535) + data[end + 12:])
        self.add("many_members.keras", "load_model", "ValueError", "declares 65535 members")
        self.keras_with("weights_not_hdf5.keras", **{"model.weights.h5": b"\x89HDF\r\n" * 9})
        self.add("weights_not_hdf5.keras", "load_model", "ValueError", "not a readable HDF5")

    def broken_files(self):
        """Truncated and random files in each format."""
        rng = np.random.default_rng(0)
        for suffix, call in ((".keras", "load_model"), (".weights.h5", "load_weights"),
                             (".h5", "load_model")):
            self.write("random" + suffix, rng.bytes(4096))
            self.add("random" + suffix, call, "ValueError", "not a valid|not a readable")
            good = self.read("good" + suffix)
            self.write("truncated" + suffix, good[: len(good) // 2])
            self.add("truncated" + suffix, call, "ValueError",
                     "not a valid .keras archive|not a readable|corrupt")

    def linked_folders(self):
        """Saved-model folders (`zipped=False`) whose members are links out of them."""
        for member in ("config.json", "model.weights.h5"):
            folder = self.p(f"linked_{member.split('.')[0]}_dir")
            os.makedirs(folder)
            for name, payload in self.members.items():
                target = os.path.join(folder, name)
                if name == member:
                    os.symlink(self.canary["bin"], target)
                else:
                    with open(target, "wb") as handle:
                        handle.write(payload)
            self.add(os.path.basename(folder), "load_model", "ValueError", "symbolic link")

    def not_regular_files(self):
        """FIFOs named like model files, and devices (directly and through a link)."""
        for name, call in (("fifo.keras", "load_model"), ("fifo.weights.h5", "load_weights"),
                           ("fifo.h5", "load_model")):
            os.mkfifo(self.p(name))
            self.add(name, call, "ValueError", "FIFO")
        self.add("cli_fifo.keras", "cli_summary", "exit 1", "FIFO", path=self.p("fifo.keras"))
        self.add("dev_zero", "load_model", "ValueError", "character device", path="/dev/zero")
        self.add("dev_zero.weights.h5", "load_weights", "ValueError", "character device",
                 path="/dev/zero")
        os.symlink("/dev/zero", self.p("link_to_dev_zero.keras"))
        self.add("link_to_dev_zero.keras", "load_model", "ValueError", "character device")

    def legacy_configs(self):
        """Legacy `.h5`: model configs and weight names."""
        lambda_config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "Lambda", "config": {"function": ["4wEAAAAAAAAA", None, None]}}]}}
        for name, value, match in (
                ("h5_deep_json.h5", _deep_json(100_000), "nests too deeply"),
                ("h5_not_text.h5", np.arange(3), "should be text"),
                ("h5_os_system.h5", json.dumps({"class_name": "system", "config": {},
                                                "module": "os"}).encode(), "system"),
                ("h5_lambda.h5", json.dumps(lambda_config).encode(), "safe_mode")):
            self.write(name, self.read("good.h5"))
            _set_legacy_attr(self.p(name), "model_config", value)
            self.add(name, "load_model", "ValueError", match)

        def traverse(h5file):
            h5file["model_weights/dense"].attrs["weight_names"] = [
                b"../../optimizer_weights/sgd/iteration", b"target/dense/bias"]
        _edit_h5_file(self.p("good.h5"), self.p("h5_name_traversal.h5"), traverse)
        self.add("h5_name_traversal.h5", "load_model", "ValueError", "invalid weight name")
        _edit_h5_file(self.p("good.h5"), self.p("h5_no_config.h5"),
                      lambda h5file: h5file.attrs.__delitem__("model_config"))
        self.add("h5_no_config.h5", "load_model", "ValueError", "No model config found")


def build_corpus(folder):
    """Writes every hostile case into `folder`; returns the list of `Case`s."""
    os.makedirs(folder, exist_ok=True)
    builder = _Builder(folder)
    for family in (builder.outside_the_file, builder.lying_zip_members,
                   builder.hostile_configs, builder.archive_structure, builder.broken_files,
                   builder.linked_folders, builder.not_regular_files, builder.legacy_configs):
        family()
    return builder.cases


def corpus_is_potent(folder):
    """Plain h5py follows the outside references of the corpus to the canary (so the cases
    would put the canary into weights if numnet followed them); returns the values read."""
    found = {}
    for kind in ("external_storage", "virtual_dataset", "external_link"):
        with h5py.File(os.path.join(folder, f"{kind}.weights.h5"), "r") as h5file:
            found[kind] = np.asarray(h5file["layers/dense/vars/0"])
    return found


if __name__ == "__main__":
    for case in build_corpus(sys.argv[1]):
        print(f"{case.name:32s} {case.call:13s} {case.error}: /{case.match}/")
