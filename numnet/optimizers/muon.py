"""Muon: momentum SGD whose step for a weight matrix is orthogonalized by a Newton-Schulz
iteration (Jordan et al., 2024), with AdamW for every other variable."""

import re

from numnet.backend import xp
from numnet.optimizers.base_optimizer import (
    Optimizer, _raw, moving_average_into, squares_average_into,
)
from numnet.serialization import register_builtin


@register_builtin("keras.optimizers")
class Muon(Optimizer):
    """Muon, as `keras.optimizers.Muon`.

    A 2-D weight (a Dense kernel) takes the Muon step:

        m += g + (momentum - 1) * m
        u  = NS5(g + momentum * m)            # (or NS5(m) without `nesterov`)
        w -= lr * u * sqrt(max(rows, cols)) * rms_rate

    where NS5 runs `ns_steps` Newton-Schulz iterations with the quintic's coefficients
    `muon_a`, `muon_b`, `muon_c` on the matrix scaled to unit Frobenius norm, which maps
    it close to the orthogonal factor of its SVD. Every other variable (biases, scalars,
    embeddings unless `exclude_embeddings=False`, and variables whose path matches a
    pattern of `exclude_layers`) takes an AdamW step at `lr * adam_lr_ratio`. Weight decay
    is `weight_decay` for the Muon variables and `adam_weight_decay` for the others.

    Slots: `<path>_momentum` per variable, and `<path>_velocity` for the AdamW ones.
    """

    def __init__(self, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999,
                 adam_weight_decay=0.004, epsilon=1e-7, weight_decay=0.004, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, exclude_layers=None,
                 exclude_embeddings=True, muon_a=3.4445, muon_b=-4.7750, muon_c=2.0315,
                 adam_lr_ratio=1, momentum=0.95, ns_steps=5, nesterov=True, rms_rate=0.2,
                 **kwargs):
        super().__init__(
            learning_rate=learning_rate, name=name, weight_decay=weight_decay,
            clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
            use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
        self.adam_beta_1 = adam_beta_1
        self.adam_beta_2 = adam_beta_2
        self.epsilon = epsilon
        self.muon_a, self.muon_b, self.muon_c = muon_a, muon_b, muon_c
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = momentum
        self.ns_steps = ns_steps
        self.nesterov = nesterov
        self.exclude_embeddings = exclude_embeddings
        self.exclude_layers = exclude_layers or []
        self.adam_weight_decay = adam_weight_decay
        self.rms_rate = rms_rate

    def _should_use_adamw(self, variable):
        """Whether `variable` takes the AdamW step (anything but a 2-D weight not excluded)."""
        if len(variable.shape) != 2:
            return True
        path = getattr(variable, "path", None) or variable.name
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(pattern, path) for pattern in self.exclude_layers)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.momentums, self.adam_velocities = [], []
        for variable in var_list:  # Keras' order: each variable's momentum, then velocity
            overwritten = getattr(variable, "overwrite_with_gradient", False)
            self.momentums.append(
                None if overwritten else self.add_variable_from_reference(variable, "momentum"))
            self.adam_velocities.append(
                self.add_variable_from_reference(variable, "velocity")
                if not overwritten and self._should_use_adamw(variable) else None)

    def _pack(self, variables, always=False):
        """Never packed: the Muon step works on each weight matrix as a matrix."""

    def _update_step_all(self, grads, variables, learning_rate):
        for g, var in zip(grads, variables):
            self.update_step(g, var, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        g = xp.asarray(_raw(gradient), dtype=variable.data.dtype)
        velocity = self.adam_velocities[i]
        if velocity is not None:
            self._adamw_step(g, variable.data, float(learning_rate) * self.adam_lr_ratio,
                             self.momentums[i].data, velocity.data)
        else:
            self._muon_step(g, variable.data, float(learning_rate), self.momentums[i].data)

    def _muon_step(self, g, w, learning_rate, m):
        f = w.dtype.type  # Keras computes in the weight's dtype
        m += g + m * f(self.momentum - 1)
        direction = g + f(self.momentum) * m if self.nesterov else m
        update = self.zeropower_via_newtonschulz5(direction, self.ns_steps)
        w -= self.lr_adjust(f(learning_rate) * update)

    def _adamw_step(self, g, w, learning_rate, m, v):
        f = w.dtype.type  # Keras' Muon computes its AdamW scalars in the weight's dtype
        t = f(int(self.iterations.data) + 1)
        alpha = f(learning_rate) * xp.sqrt(f(1) - f(self.adam_beta_2) ** t) / (
            f(1) - f(self.adam_beta_1) ** t)
        tmp, step = self._buffer(w), self._buffer(w, 1)
        moving_average_into(m, g, f(1 - self.adam_beta_1), tmp)
        squares_average_into(v, g, f(1 - self.adam_beta_2), tmp)
        # w -= (m * alpha) / (sqrt(v) + epsilon)
        xp.sqrt(v, out=tmp)
        xp.add(tmp, f(self.epsilon), out=tmp)
        xp.multiply(m, alpha, out=step)
        xp.divide(step, tmp, out=step)
        xp.subtract(w, step, out=w)

    @staticmethod
    def transpose_last_axis(x):
        """`x` with its last two axes swapped."""
        return xp.swapaxes(x, -1, -2)

    def lr_adjust(self, x):
        """Scales a 2-D step by `sqrt(max(rows, cols)) * rms_rate` (Moonlight's rule, which
        lets Muon share AdamW's learning rate and weight decay); `x` itself without
        `rms_rate`."""
        if self.rms_rate is None:
            return x
        x = xp.asarray(_raw(x))
        f = x.dtype.type
        return x * xp.sqrt(f(max(x.shape[0], x.shape[1]))) * f(self.rms_rate)

    def zeropower_via_newtonschulz5(self, x, steps):
        """`steps` quintic Newton-Schulz iterations on `x` (at least 2-D) scaled to unit
        Frobenius norm: close to the orthogonal factor `U V^T` of `x`'s SVD."""
        x = xp.asarray(_raw(x))
        if x.ndim < 2:
            raise ValueError("Expected gradient or momentum to have at least 2 dimensions. "
                             f"Received: shape={x.shape}")
        f = x.dtype.type if x.dtype.kind == "f" else xp.float32
        x = x.astype(f, copy=False)
        a, b, c = f(self.muon_a), f(self.muon_b), f(self.muon_c)
        tall = x.shape[-2] > x.shape[-1]
        if tall:
            x = self.transpose_last_axis(x)
        norm = xp.sqrt(xp.sum(x * x, axis=(-2, -1), keepdims=True))
        x = x / (norm + f(1e-7))
        for _ in range(steps):
            gram = x @ self.transpose_last_axis(x)
            x = a * x + (b * gram + (c * gram) @ gram) @ x
        return self.transpose_last_axis(x) if tall else x

    def _apply_weight_decay(self, variables, learning_rate=None):
        """`w -= w * decay * lr`, with `weight_decay` for the Muon variables and
        `adam_weight_decay` for the AdamW ones (Keras' order of operations)."""
        if learning_rate is None:
            learning_rate = float(_raw(self.learning_rate))
        for variable in variables:
            if not self._use_weight_decay(variable):
                continue
            decay = self.adam_weight_decay if self._should_use_adamw(variable) \
                else self.weight_decay
            if decay is None:
                continue
            w = variable.data
            f = w.dtype.type
            w -= w * f(decay) * f(learning_rate)

    def get_config(self):
        config = super().get_config()
        config.update({
            "adam_beta_1": self.adam_beta_1, "adam_beta_2": self.adam_beta_2,
            "epsilon": self.epsilon, "exclude_layers": self.exclude_layers,
            "muon_a": self.muon_a, "muon_b": self.muon_b, "muon_c": self.muon_c,
            "adam_lr_ratio": self.adam_lr_ratio, "momentum": self.momentum,
            "ns_steps": self.ns_steps, "nesterov": self.nesterov,
            "exclude_embeddings": self.exclude_embeddings,
            "adam_weight_decay": self.adam_weight_decay, "rms_rate": self.rms_rate})
        return config
