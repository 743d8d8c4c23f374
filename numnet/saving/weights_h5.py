"""Weights in HDF5, keyed exactly like Keras 3's `model.weights.h5`.

Keras walks the model as a tree of "saveables" (layers, the optimizer) and
stores each one's own variables as datasets `"0"`, `"1"`, ... in a group
`<path>/vars` whose `name` attribute is the object's name:

```
layers/dense/vars     {name: "dense"}    0 kernel  1 bias
layers/dense_1/vars   {name: "dense_1"}  0 kernel  1 bias
optimizer/vars        {name: "adam"}     0 iterations  1 learning_rate  2.. slots
vars                  {name: "sequential"}
```

Entries of a list (such as `model.layers`) are keyed by the snake-case class
name plus a per-list counter (`dense`, `dense_1`, ...), *not* by the layer's
name. `Sequential` and Functional models visit `layers` first; other objects
(subclassed models, custom layers) visit their attributes sorted by name,
private ones last, skipping what a bare `Layer`/`Model` already has. The walk
below reproduces that, so numnet and Keras read each other's files.

Loading checks every count and shape before touching any weight and reads
nothing whose declared shape does not match, so a hostile file cannot make
numnet allocate huge arrays or leave a model half loaded.
"""

import warnings

import numpy as np

from numnet.backend import to_snake_case


def require_h5py(what="Saving weights"):
    """Imports h5py (a required dependency) or raises an ImportError that says how to repair it."""
    try:
        import h5py
    except ImportError:
        raise ImportError(
            f"{what} in the Keras `.keras`/`.weights.h5`/`.h5` formats needs h5py, a required "
            "dependency of numnet that is missing from this environment. Install it with "
            "`pip install h5py` (or reinstall numnet)."
        ) from None
    return h5py


# ------------------------------------------------------- outside the file
# The filters HDF5 and h5py build in. Any other filter id makes HDF5 look for a
# plugin library on disk when the data is read: code from outside the file.
_BUILTIN_FILTERS = {1: "gzip", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit",
                    6: "scaleoffset", 32000: "lzf"}
MAX_H5_OBJECTS = 100_000  # a weights file holds a few per layer


def check_h5_file(h5file, origin):
    """Refuses an HDF5 file holding anything that reaches outside it, before any data is read.

    Walks every link of the open h5py file: soft, external and user-defined
    links, datasets stored in external files, virtual datasets (which map
    other files) and datasets needing a filter plugin are all refused, as
    Keras 3 refuses them ("Not allowed: H5 file with ..."), wherever they sit.

    Raises:
        ValueError: naming the file, the feature and where it is.
    """
    h5py = require_h5py("Loading weights")
    root = h5file["/"]
    seen, stack, count = {root.id}, [("", root)], 0
    while stack:
        path, group = stack.pop()
        for name in group:
            count += 1
            where = f"{path}/{name}"
            if count > MAX_H5_OBJECTS:
                raise ValueError(f"{origin}: Not allowed: H5 file with more than "
                                 f"{MAX_H5_OBJECTS} objects; a weights file holds a few per layer.")
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                target = getattr(link, "filename", None) or getattr(link, "path", None)
                raise ValueError(
                    f"{origin}: Not allowed: H5 file with {type(link).__name__} at '{where}'"
                    + (f" (to '{target}')" if target else "") + ". Links can point outside "
                    "the file or alias its data; numnet refuses them, as Keras does.")
            node = group[name]
            if isinstance(node, h5py.Dataset):
                _check_dataset(node, where, origin)
            elif isinstance(node, h5py.Group) and node.id not in seen:
                seen.add(node.id)
                stack.append((where, node))


def _check_dataset(dataset, where, origin):
    if dataset.external:
        files = sorted({str(entry[0]) for entry in dataset.external})
        raise ValueError(f"{origin}: Not allowed: H5 file with external Dataset at '{where}' "
                         f"(its data lives in {files}).")
    if dataset.is_virtual:
        raise ValueError(f"{origin}: Not allowed: H5 file with virtual Dataset at '{where}' "
                         "(it maps data from other files).")
    plist = dataset.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in _BUILTIN_FILTERS:
            raise ValueError(f"{origin}: Not allowed: H5 file with Dataset '{where}' compressed "
                             f"by filter {code}, which HDF5 would load as a plugin library from "
                             "outside the file.")


# ----------------------------------------------------------------- the walk
def _is_saveable(obj):
    from numnet.layers.base import Layer
    from numnet.optimizers.base_optimizer import Optimizer
    return isinstance(obj, (Layer, Optimizer))


_SKIPSETS = {}


def _skipset(obj):
    """Attribute names a bare `Layer` (or `Model`, or `Optimizer`) already has: never
    walked."""
    from numnet.models.model import Model
    from numnet.layers.base import Layer
    from numnet.optimizers.base_optimizer import Optimizer
    kind = "optimizer" if isinstance(obj, Optimizer) else \
        "model" if isinstance(obj, Model) else "layer"
    if kind not in _SKIPSETS:
        if kind == "optimizer":  # its methods and properties too (Keras walks `dir`)
            bare = Optimizer(learning_rate=0.0, name="_bare_optimizer")
            skip = set(vars(bare)) | set(dir(Optimizer))
        else:
            bare = Model(name="_bare_model") if kind == "model" else Layer(name="_bare_layer")
            skip = set(vars(bare))
        skip.discard("optimizer")
        _SKIPSETS[kind] = skip
    return _SKIPSETS[kind]


def is_graph_model(obj):
    """Whether `obj` is a Sequential or Functional model (subclasses included): its layers
    are its structure."""
    from numnet.models.functional import Functional
    from numnet.models.sequential import Sequential
    return isinstance(obj, (Sequential, Functional))


def _children(obj):
    """Yields `(attribute, value)` in the order Keras' `_walk_saveable` visits them.

    As Keras walks `dir(obj)`, properties a subclass defines count too (a
    property returning a layer reaches it under that name as well).
    """
    from numnet.layers.base import Layer
    from numnet.models.model import Model
    from numnet.optimizers.base_optimizer import Optimizer
    if not isinstance(obj, (Layer, Optimizer)):
        return
    skip = _skipset(obj)
    names = {k for k in vars(obj) if k not in skip and not k.startswith("__")}
    names |= {k for k in dir(type(obj)) if k not in skip and not k.startswith("__") and
              isinstance(getattr(type(obj), k, None), property)}
    if is_graph_model(obj):
        # The graph's layers first (Keras: "the internal Keras state takes precedence"),
        # then the public attributes a subclass adds (the private ones of a graph model
        # are numnet's own bookkeeping, which Keras' files do not have).
        yield "layers", obj.layers
        yield "optimizer", getattr(obj, "optimizer", None)
        names = {n for n in names - {"layers", "optimizer", "operations"}
                 if not n.startswith("_")}
    elif isinstance(obj, Model):
        names |= {"layers", "optimizer"}
    for name in sorted(names, key=lambda n: (n.startswith("_"), n)):
        try:
            value = getattr(obj, name)
        except Exception:  # noqa: BLE001 - a failing property is simply not walked
            continue
        yield name, value


def _join(path, name):
    return f"{path}/{name}" if path else name


def _holds_new_variables(container, visited, seen=None):
    """Whether a (nested) container holds a saveable not yet walked that has variables."""
    seen = set() if seen is None else seen
    if id(container) in seen:
        return False
    seen.add(id(container))
    for item in (container.values() if isinstance(container, dict) else container):
        if _is_saveable(item) and id(item) not in visited and getattr(item, "weights", None):
            return True
        if isinstance(item, (list, tuple, dict)) and _holds_new_variables(item, visited, seen):
            return True
    return False


def walk(model, skip=(), aliases=None, has_group=None):
    """Returns `[(path, object)]` for every saveable reachable from `model`, in Keras order.

    `path` is the group holding the object's `vars` ("" for the model itself,
    `"layers/dense"`, `"optimizer"`, ...). Containers nest as in Keras 3.15:
    a list inside a list is `container`, `container_1`, ... Objects in `skip`
    (and what they hold) are left out. With `aliases` (a dict), every further
    path that reaches an already-walked object is recorded under its `id`.
    With `has_group` (loading: whether the file has a group at a path), a
    nested container whose group the file lacks (files of Keras before 3.15
    did not save them) is not walked, with Keras' warning, so its layers can
    still be found under another path (`layers/...`).
    """
    found, visited, skipped = [], set(), {id(obj) for obj in skip}

    def visit(obj, path):
        if id(obj) in skipped:
            return
        if id(obj) in visited:
            if aliases is not None:
                aliases.setdefault(id(obj), []).append(path)
            return
        visited.add(id(obj))
        found.append((path, obj))
        for attr, child in _children(obj):
            if _is_saveable(child):
                visit(child, _join(path, attr))
            elif isinstance(child, (list, tuple, dict)):
                visit_container(child, _join(path, attr), set())

    def visit_container(container, path, seen_containers):
        if id(container) in seen_containers:
            return
        seen_containers.add(id(container))
        used = {}
        for item in (container.values() if isinstance(container, dict) else container):
            if _is_saveable(item):
                visit(item, _join(path, _unique_key(to_snake_case(type(item).__name__), used)))
            elif isinstance(item, (list, tuple, dict)):
                nested = _join(path, _unique_key("container", used))
                if has_group is not None and not has_group(nested):
                    if _holds_new_variables(item, visited):
                        warnings.warn(
                            f"Skipping nested container at '{nested}': no matching group found "
                            "in the saved file. This usually means the file was saved with a "
                            "Keras version that did not serialize sublayers nested inside "
                            "containers. Affected layers will retain their freshly-initialized "
                            "weights.", stacklevel=4)
                    continue
                visit_container(item, nested, seen_containers)

    visit(model, "")
    return found


def _unique_key(base, used):
    if base in used:
        used[base] += 1
        return f"{base}_{used[base]}"
    used[base] = 0
    return base


def _own_variables(obj):
    from numnet.optimizers.base_optimizer import Optimizer
    if isinstance(obj, Optimizer):
        return list(obj.variables)
    result, seen = [], set()
    for v in obj._trainable_variables + obj._non_trainable_variables:
        if id(v) not in seen:
            seen.add(id(v))
            result.append(v)
    return result


def _describe(obj):
    return f"{type(obj).__name__} '{getattr(obj, 'name', '?')}'"


# ------------------------------------------------------------------ saving
def write_weights(model, h5file, skip=()):
    """Writes every saveable's own variables into the open h5py file `h5file`.

    Objects in `skip` (and everything they hold) are left out.
    """
    for path, obj in walk(model, skip=skip):
        group = h5file.require_group(_join(path, "vars"))
        group.attrs["name"] = str(getattr(obj, "name", ""))
        if hasattr(obj, "save_own_variables") and _overrides(obj, "save_own_variables"):
            store = {}
            obj.save_own_variables(store)
            for key, value in store.items():
                group.create_dataset(str(key), data=np.asarray(value))
            continue
        for i, variable in enumerate(_own_variables(obj)):
            group.create_dataset(str(i), data=np.asarray(variable.data))


def _overrides(obj, method):
    from numnet.layers.base import Layer
    from numnet.optimizers.base_optimizer import Optimizer
    if isinstance(obj, Optimizer):
        return True
    base = getattr(Layer, method, None)
    return getattr(type(obj), method, None) is not base


# ----------------------------------------------------------------- loading
def _datasets(h5, group_path, origin, named=False):
    """The datasets `"0"`, `"1"`, ... of `group_path` (hard links, numeric dtypes only).

    With `named`, any plainly named datasets, as `(name, dataset)` pairs: the
    store a layer's own `load_own_variables` reads (Keras' `idf_weights`...).
    """
    h5py = require_h5py("Loading weights")
    node = h5
    for part in group_path.split("/"):  # refuse links on the way (external files)
        link = node.get(part, getlink=True)
        if link is None:
            return []
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"{origin}: '{part}' on the way to '{group_path}' is a "
                             f"{type(link).__name__}; only plain groups are accepted (links "
                             "are refused for safety).")
        node = node[part]
        if not isinstance(node, h5py.Group):
            break
    group = node
    if not isinstance(group, h5py.Group):
        raise ValueError(f"{origin}: '{group_path}' should be a group of weights, not a "
                         f"{type(group).__name__}.")
    keys = list(group.keys())
    if named:
        return _named_datasets(group, group_path, origin, keys)
    if sorted(keys, key=lambda k: int(k) if k.isdigit() else -1) != [str(i) for i in range(len(keys))]:
        raise ValueError(f"{origin}: '{group_path}' holds unexpected entries {sorted(keys)[:10]}; "
                         "expected datasets named '0', '1', ...")
    result = []
    for i in range(len(keys)):
        link = group.get(str(i), getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"{origin}: '{group_path}/{i}' is a {type(link).__name__}; only "
                             "plain datasets are accepted (links are refused for safety).")
        dataset = group[str(i)]
        if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "biuf":
            raise ValueError(f"{origin}: '{group_path}/{i}' is not a numeric dataset.")
        result.append(dataset)
    return result


def _named_datasets(group, group_path, origin, keys):
    h5py = require_h5py("Loading weights")
    result = []
    for key in keys:
        if not key.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise ValueError(f"{origin}: '{group_path}' holds an entry with an unexpected "
                             f"name {key[:40]!r}.")
        link = group.get(key, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"{origin}: '{group_path}/{key}' is a {type(link).__name__}; only "
                             "plain datasets are accepted (links are refused for safety).")
        dataset = group[key]
        if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "biuf":
            raise ValueError(f"{origin}: '{group_path}/{key}' is not a numeric dataset.")
        result.append((key, dataset))
    return result


def read_weights(model, h5file, origin="weights file", skip_mismatch=False,
                 load_optimizer=True, skip=()):
    """Loads the variables of every saveable of `model` from the open h5py file `h5file`.

    All counts and shapes are checked before any variable changes. Raises
    ValueError naming the file, the object, the variable and both shapes.
    Objects in `skip` (and what they hold) are left as they are. An object
    reachable under several attribute names is read from the first of them
    the file has a matching group for (Keras retries each path too).
    """
    from numnet.optimizers.base_optimizer import Optimizer
    assignments, custom, visited_groups = [], [], set()
    layer_count = 0
    aliases = {}
    found = walk(model, skip=skip, aliases=aliases,
                 has_group=lambda path: path in h5file)
    for path, obj in found:
        is_optimizer = isinstance(obj, Optimizer)
        if is_optimizer and not load_optimizer:
            continue
        is_custom = not is_optimizer and _overrides(obj, "load_own_variables")
        variables = None if is_custom else _own_variables(obj)
        group_path = _pick_group(h5file, [path] + aliases.get(id(obj), []), variables, origin)
        visited_groups.add(group_path)
        if is_custom:
            custom.append((obj, _datasets(h5file, group_path, origin, named=True)))
            continue
        datasets = _datasets(h5file, group_path, origin)
        if not is_optimizer and path:
            layer_count += 1
        if len(datasets) != len(variables):
            if is_optimizer:
                warnings.warn(
                    f"Skipping variable loading for optimizer '{obj.name}', because it has "
                    f"{len(variables)} variables whereas the saved optimizer has "
                    f"{len(datasets)} variables.", stacklevel=3)
                continue
            message = (f"{origin}: layer '{obj.name}' ({type(obj).__name__}, at "
                       f"'{group_path}') expected {len(variables)} variables, but received "
                       f"{len(datasets)} variables during loading. Expected: "
                       f"{[v.name for v in variables]}")
            if skip_mismatch:
                warnings.warn(message + " Skipping it (skip_mismatch=True).", stacklevel=3)
                continue
            raise ValueError(message)
        mismatched = [(v, d) for v, d in zip(variables, datasets)
                      if tuple(d.shape) != tuple(v.data.shape)]
        if mismatched:
            v, d = mismatched[0]
            message = (f"{origin}: {_describe(obj)} (at '{group_path}'): variable "
                       f"'{v.name}' has shape {tuple(v.data.shape)}, but the file holds "
                       f"shape {tuple(d.shape)}; the shapes must match.")
            if skip_mismatch:
                warnings.warn(message + " Skipping it (skip_mismatch=True).", stacklevel=3)
                continue
            raise ValueError(message)
        assignments.extend(zip(variables, datasets))
    extra = _unvisited_weight_groups(h5file, visited_groups, skipped_paths(model, skip))
    if extra and not skip_mismatch:
        raise ValueError(
            f"{origin}: the file holds weights for {len(extra)} object(s) the model does not "
            f"have: {extra[:8]}. The model '{model.name}' has {layer_count} layer(s) with "
            "weights entries; the file was probably saved from a different architecture."
        )
    # Everything matched: read and assign.
    values = [(variable, dataset[()]) for variable, dataset in assignments]
    for variable, value in values:
        variable.data[...] = np.asarray(value, dtype=variable.data.dtype)
    for obj, datasets in custom:
        obj.load_own_variables({name: d[()] for name, d in datasets})


def _pick_group(h5file, paths, variables, origin):
    """The `vars` group of the first path the file holds a fitting group for (else the first)."""
    groups = [_join(path, "vars") for path in paths]
    if len(groups) == 1:
        return groups[0]
    for group in groups:
        if group in h5file and (variables is None or
                                len(_datasets(h5file, group, origin)) == len(variables)):
            return group
    return groups[0]


def skipped_paths(model, skip):
    """The paths of the objects in `skip` (and of what they hold) in `model`'s walk."""
    if not skip:
        return []
    kept = {path for path, _ in walk(model, skip=skip)}
    return [path for path, _ in walk(model) if path not in kept]


def _unvisited_weight_groups(h5file, visited, skipped=()):
    h5py = require_h5py("Loading weights")
    extra = []
    skipped_groups = {_join(path, "vars") for path in skipped}

    def visit(name, item):
        if isinstance(item, h5py.Group) and (name == "vars" or name.endswith("/vars")):
            if name in visited or name in skipped_groups or len(item.keys()) == 0:
                return
            extra.append(name)

    h5file.visititems(visit)
    # Optimizer state the model has no optimizer for is ignored, as in Keras.
    return [e for e in extra if not e.startswith("optimizer")]
