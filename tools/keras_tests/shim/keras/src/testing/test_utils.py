"""`keras.src.testing.test_utils`: synthetic classification data and named test products."""

import itertools

import numpy as np


def get_test_data(train_samples, test_samples, input_shape, num_classes, random_seed=None):
    """Balanced, separable synthetic classes: `(x_train, y_train), (x_test, y_test)`.

    Each class is a random template plus unit Gaussian noise; both splits hold every
    class in equal share (as far as the sample counts allow). Seeded by `random_seed`.
    """
    rng = np.random.default_rng(random_seed)
    total = train_samples + test_samples
    labels = np.arange(total) % num_classes
    templates = 2 * num_classes * rng.random((num_classes,) + tuple(input_shape))
    x = (templates[labels] + rng.normal(size=(total,) + tuple(input_shape))).astype("float32")
    train_idx, test_idx = [], []
    per_class_train = train_samples // num_classes
    for cls in range(num_classes):
        members = rng.permutation(np.flatnonzero(labels == cls))
        train_idx.extend(members[:per_class_train])
        test_idx.extend(members[per_class_train:])
    train_idx = rng.permutation(np.array(train_idx, dtype=int))
    test_idx = rng.permutation(np.array(test_idx, dtype=int))
    y = labels.astype("int32")
    return (x[train_idx], y[train_idx]), (x[test_idx], y[test_idx])


def _value_name(value):
    return value.__name__.lower() if hasattr(value, "__name__") else str(value).lower()


def named_product(*args, **kwargs):
    """Parameter dicts for `parameterized.named_parameters`: the product of the choices.

    Positional arguments are sequences of dicts (each with a "testcase_name"); keyword
    arguments map a parameter to its values. Names are joined with "_".
    """
    groups = [list(group) for group in args]
    groups += [[{"testcase_name": _value_name(v), key: v} for v in values]
               for key, values in kwargs.items()]
    cases = []
    for combination in itertools.product(*reversed(groups)):
        case = {}
        for part in reversed(combination):
            case.update(part)
        case["testcase_name"] = "_".join(p["testcase_name"] for p in reversed(combination))
        cases.append(case)
    return cases
