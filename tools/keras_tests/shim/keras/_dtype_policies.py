"""The part of `keras.dtype_policies` that exists in numnet: one plain dtype per layer.

numnet has no mixed precision: a layer computes and stores its weights in one dtype (its
`dtype`, floatx by default), which its config writes as a `DTypePolicy` named after that
dtype, as Keras does. So a `DTypePolicy` of a plain float dtype is meaningful here and is
what `dtype_policy()` reports; mixed and quantized policies are not in numnet and raise
`NotInNumnet`. Tests save and restore the global policy in `setUp` / `tearDown`; this
keeps that bookkeeping working without pretending to more.
"""

import numnet
from numnet.backend import standardize_dtype

from keras._shim import NotInNumnet


class DTypePolicy:
    def __init__(self, name=None):
        name = name or numnet.backend.floatx()
        if not isinstance(name, str) or name.startswith(("mixed_", "int8", "int4", "float8",
                                                          "gptq", "awq")):
            raise NotInNumnet(f"numnet has no mixed-precision or quantized dtype policy {name!r}")
        self.name = standardize_dtype(name)

    @property
    def compute_dtype(self):
        return self.name

    @property
    def variable_dtype(self):
        return self.name

    def get_config(self):
        return {"name": self.name}

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __repr__(self):
        return f'<DTypePolicy "{self.name}">'


FloatDTypePolicy = DTypePolicy


def dtype_policy():
    """The global policy: floatx, since numnet has no other global dtype setting."""
    return DTypePolicy(numnet.backend.floatx())


def set_dtype_policy(policy):
    """Accepts the policy numnet already has (restoring a saved one); any other raises."""
    name = policy.name if isinstance(policy, DTypePolicy) else DTypePolicy(policy).name
    if name != numnet.backend.floatx():
        raise NotInNumnet(f"numnet has no global dtype policy (asked for {name!r}); "
                          "its layers follow floatx")


def get(identifier):
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return DTypePolicy(identifier.get("config", {}).get("name"))
    return DTypePolicy(identifier)
