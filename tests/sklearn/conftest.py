"""Settings for the scikit-learn tests: one BLAS thread.

Their problems are tiny (tens of samples): several BLAS threads only add
overhead, and on a busy two-core machine they made single checks 8x slower.
Both numnet's and scikit-learn's estimators run under the same limit.
"""

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
