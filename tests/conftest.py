"""Suite-wide test settings."""

import os

# scikit-learn's estimator checks include array-API checks that run only when SciPy's array-API
# support is on; it must be set before SciPy is first imported, hence here.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
