"""The playground's 2-D data sets, its input features and uploaded CSV data.

Six generators in the manner of TensorFlow Playground, each drawing points in
the square [-6, 6]^2 from a seeded NumPy generator:

* classification (labels 1 = blue, 0 = orange): `circle`, `xor`, `gauss`,
  `spiral`;
* regression (targets in [-1, 1]): `plane`, `multigauss`.

`noise` (a fraction, 0 to 0.5) perturbs the point the label is read from
(circle, xor, the regressions), the coordinates (spiral) or the spread
(gauss). `make_data` shuffles the points and splits them into train and
test sets; `feature_matrix` turns (x1, x2) points into the network's inputs.
Nothing here needs the web server, so exported Python snippets use it too:

```python
from numnet.playground import datasets
data = datasets.make_data("spiral", n_points=500, noise=0.1, train_percent=50, seed=1)
x_train = datasets.feature_matrix(data.x_train, ["x1", "x2", "sinx1", "sinx2"])
```
"""

import io
from typing import NamedTuple

import numpy as np

CLASSIFICATION = ("circle", "xor", "gauss", "spiral")
REGRESSION = ("plane", "multigauss")
DOMAIN = 6.0  # the generated points and the drawn input plane span [-DOMAIN, DOMAIN]

# Input features, in the fixed order in which they feed the network.
FEATURES = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")
FEATURE_LABELS = {"x1": "x\u2081", "x2": "x\u2082", "x1sq": "x\u2081\u00b2",
                  "x2sq": "x\u2082\u00b2", "x1x2": "x\u2081x\u2082",
                  "sinx1": "sin(x\u2081)", "sinx2": "sin(x\u2082)"}

# Six signed bumps of the `multigauss` regression: (centre x, centre y, sign).
_BUMPS = ((-4.0, 2.5, 1.0), (0.0, 2.5, -1.0), (4.0, 2.5, 1.0),
          (-4.0, -2.5, -1.0), (0.0, -2.5, 1.0), (4.0, -2.5, -1.0))


class Data(NamedTuple):
    """A data set split into train and test points (float32)."""
    x_train: np.ndarray  # (n_train, 2) points
    y_train: np.ndarray  # (n_train,) labels
    x_test: np.ndarray
    y_test: np.ndarray
    domain: float        # the plane to draw: [-domain, domain]^2


def _circle(rng, n, noise):
    radius = 5.0
    inner = n // 2
    r = np.concatenate([rng.uniform(0.0, 0.5 * radius, inner),
                        rng.uniform(0.7 * radius, radius, n - inner)])
    angle = rng.uniform(0.0, 2 * np.pi, n)
    points = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    shifted = points + rng.uniform(-radius, radius, (n, 2)) * noise
    labels = (np.hypot(shifted[:, 0], shifted[:, 1]) < 0.5 * radius).astype(np.float32)
    return points, labels


def _xor(rng, n, noise):
    points = rng.uniform(-5.0, 5.0, (n, 2))
    points += np.where(points > 0, 0.3, -0.3)  # keep the points off the axes
    shifted = points + rng.uniform(-5.0, 5.0, (n, 2)) * noise
    labels = (shifted[:, 0] * shifted[:, 1] >= 0).astype(np.float32)
    return points, labels


def _gauss(rng, n, noise):
    variance = 0.5 + 3.5 * (noise / 0.5)  # 0.5 without noise, 4 at 50 %
    positive = n // 2
    centres = np.repeat([[2.0, 2.0], [-2.0, -2.0]], [positive, n - positive], axis=0)
    points = centres + rng.normal(0.0, np.sqrt(variance), (n, 2))
    labels = np.repeat([1.0, 0.0], [positive, n - positive]).astype(np.float32)
    return points, labels


def _spiral(rng, n, noise):
    half = n // 2
    parts, labels = [], []
    for count, turn, label in ((half, 0.0, 1.0), (n - half, np.pi, 0.0)):
        i = np.arange(count)
        r = i / max(count, 1) * 5.0
        t = 1.75 * i / max(count, 1) * 2 * np.pi + turn
        jitter = rng.uniform(-1.0, 1.0, (count, 2)) * noise
        parts.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + jitter)
        labels.append(np.full(count, label, np.float32))
    return np.concatenate(parts), np.concatenate(labels)


def _plane(rng, n, noise):
    points = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    shifted = points + rng.uniform(-DOMAIN, DOMAIN, (n, 2)) * noise
    labels = np.clip((shifted[:, 0] + shifted[:, 1]) / 10.0, -1.0, 1.0)
    return points, labels.astype(np.float32)


def multigauss_value(points):
    """The noise-free target of the `multigauss` regression at `points` (n, 2)."""
    points = np.asarray(points, dtype=np.float64)
    total = np.zeros(len(points))
    for cx, cy, sign in _BUMPS:
        total += sign * np.exp(-((points[:, 0] - cx) ** 2 + (points[:, 1] - cy) ** 2) / 2.0)
    return np.clip(total, -1.0, 1.0)


def _multigauss(rng, n, noise):
    points = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    shifted = points + rng.uniform(-DOMAIN, DOMAIN, (n, 2)) * noise
    return points, multigauss_value(shifted).astype(np.float32)


_GENERATORS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral,
               "plane": _plane, "multigauss": _multigauss}


def generate(name, n_points=500, noise=0.0, seed=0):
    """Draws `n_points` points of the data set `name`.

    Args:
        name: one of `CLASSIFICATION` or `REGRESSION`.
        n_points: how many points (at least 2).
        noise: a fraction in [0, 0.5].
        seed: a non-negative integer; the same seed gives the same points.

    Returns:
        `(points, labels)`: float32 arrays of shapes `(n_points, 2)` and
        `(n_points,)`, in the generator's order (not shuffled).
    """
    if name not in _GENERATORS:
        raise ValueError(f"Unknown data set {name!r}; expected one of {sorted(_GENERATORS)}.")
    if not 0.0 <= noise <= 0.5:
        raise ValueError(f"`noise` must be in [0, 0.5]; received noise={noise!r}.")
    if int(n_points) < 2:
        raise ValueError(f"`n_points` must be at least 2; received n_points={n_points!r}.")
    rng = np.random.default_rng([int(seed), 0])
    points, labels = _GENERATORS[name](rng, int(n_points), float(noise))
    return points.astype(np.float32), labels.astype(np.float32)


def split(points, labels, train_percent, seed=0, domain=None):
    """Shuffles the points with `seed` and keeps `train_percent` % of them for training.

    Both parts keep at least one point. `domain` is the half-width of the
    plane to draw; by default `DOMAIN`, or wide enough for every point.
    Returns a `Data`.
    """
    points = np.asarray(points, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.float32)
    n = len(points)
    order = np.random.default_rng([int(seed), 2]).permutation(n)
    n_train = min(max(int(round(n * train_percent / 100.0)), 1), n - 1)
    train, test = order[:n_train], order[n_train:]
    if domain is None:
        extent = float(np.abs(points).max()) if n else 0.0
        domain = DOMAIN if extent <= DOMAIN else float(np.ceil(extent * 1.05))
    return Data(points[train], labels[train], points[test], labels[test], domain)


def make_data(name, n_points=500, noise=0.0, train_percent=50, seed=0):
    """`generate` then `split`: the playground's data for these settings, drawn
    on [-DOMAIN, DOMAIN]^2 (a few Gaussian points may fall outside)."""
    points, labels = generate(name, n_points, noise, seed)
    return split(points, labels, train_percent, seed, domain=DOMAIN)


def feature_matrix(points, features):
    """The network inputs for `points` (n, 2): one column per name in `features`.

    The columns follow the order of `FEATURES`, whatever the order of `features`.
    """
    points = np.asarray(points, dtype=np.float32)
    x1, x2 = points[:, 0], points[:, 1]
    columns = {"x1": x1, "x2": x2, "x1sq": x1 * x1, "x2sq": x2 * x2, "x1x2": x1 * x2,
               "sinx1": np.sin(x1), "sinx2": np.sin(x2)}
    unknown = sorted(set(features) - set(FEATURES))
    if unknown:
        raise ValueError(f"Unknown features {unknown}; expected names from {FEATURES}.")
    chosen = [name for name in FEATURES if name in features]
    if not chosen:
        raise ValueError("Choose at least one input feature.")
    return np.stack([columns[name] for name in chosen], axis=1).astype(np.float32)


def parse_csv(text, problem, max_rows=5000, max_abs=1e6):
    """Reads uploaded `x1, x2, label` rows (an optional header line is skipped).

    Classification labels must be 0/1 or -1/1 (-1 becomes 0); regression
    targets may be any finite numbers. Raises `ValueError` with a message
    naming the first bad line.

    Returns:
        `(points, labels)` as float32 arrays.
    """
    rows = []
    for number, line in enumerate(io.StringIO(text), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = [cell.strip() for cell in line.replace(";", ",").split(",")]
        try:
            values = [float(cell) for cell in cells]
        except ValueError:
            if not rows and number == 1:
                continue  # a header line such as "x1,x2,label"
            raise ValueError(f"line {number}: expected three numbers x1, x2, label; "
                             f"got {line[:60]!r}") from None
        if len(values) != 3:
            raise ValueError(f"line {number}: expected three numbers x1, x2, label; "
                             f"got {len(values)} values")
        if not all(np.isfinite(values)) or max(abs(v) for v in values[:2]) > max_abs:
            raise ValueError(f"line {number}: the values must be finite numbers with "
                             f"|x| <= {max_abs:g}; got {line[:60]!r}")
        rows.append(values)
        if len(rows) > max_rows:
            raise ValueError(f"too many rows: at most {max_rows} points are allowed")
    if len(rows) < 4:
        raise ValueError(f"expected at least 4 rows of x1, x2, label; got {len(rows)}")
    table = np.asarray(rows, dtype=np.float64)
    points, labels = table[:, :2], table[:, 2]
    if problem == "classification":
        if not np.isin(labels, (-1.0, 0.0, 1.0)).all():
            bad = labels[~np.isin(labels, (-1.0, 0.0, 1.0))][0]
            raise ValueError(f"classification labels must be 0/1 or -1/1; got {bad:g} "
                             "(choose the regression problem for other targets)")
        labels = (labels > 0).astype(np.float64)
        if labels.min() == labels.max():
            raise ValueError("classification data needs points of both classes")
    return points.astype(np.float32), labels.astype(np.float32)
