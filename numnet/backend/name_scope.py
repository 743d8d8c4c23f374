"""Name scopes: the paths variables are named by (`keras.name_scope`).

A variable created inside `with name_scope("block"):` gets the path
`block/<its name>`; scopes nest (`outer/inner/kernel`). Layers open one for
themselves while they build and first run (`numnet.layers.base.name_scope_of`),
which is how a model's weights get paths such as `sequential/dense/kernel`.
Each thread has its own stack of scopes.
"""

from numnet.backend.global_state import ThreadStack

# (the object that opened the scope or None, the scope's full path), outermost first.
NAME_SCOPES = ThreadStack()


class name_scope:  # noqa: N801 - used as a `with` statement, as Keras' class
    """Keras 3's `name_scope(name, caller=None, deduplicate=True, override_parent=None)`.

    Args:
        name: the scope's name (a string without "/").
        caller: the object opening it; with `deduplicate`, re-entering the scope the
            same caller has innermost under the same name adds no level.
        deduplicate: see `caller`.
        override_parent: an absolute path to nest under instead of the open scopes.
    """

    def __init__(self, name, caller=None, deduplicate=True, override_parent=None):
        if not isinstance(name, str) or "/" in name:
            raise ValueError("Argument `name` must be a string and cannot contain character "
                             f"`/`. Received: name={name}")
        self.name = name
        self.caller = caller
        self.deduplicate = deduplicate
        self.override_parent = override_parent
        self._pushed = False

    def __enter__(self):
        scopes = NAME_SCOPES.items
        if self.deduplicate and scopes and self.caller is not None and \
                scopes[-1][0] is self.caller and scopes[-1][1].rsplit("/", 1)[-1] == self.name:
            return self
        parent = self.override_parent.strip("/") if self.override_parent is not None \
            else current_path()
        scopes.append((self.caller, f"{parent}/{self.name}" if parent else self.name))
        self._pushed = True
        return self

    def __exit__(self, *exc_info):
        if self._pushed:
            NAME_SCOPES.items.pop()
            self._pushed = False


def current_path():
    """The innermost open scope's path ("" outside every scope)."""
    scopes = NAME_SCOPES.items
    return scopes[-1][1] if scopes else ""
