"""One handle on the array library; numnet's layers never import NumPy's math directly."""

import numpy

xp = numpy


def to_numpy(array):
    """Returns `array` as a NumPy array (a no-op for the NumPy backend)."""
    return numpy.asarray(array)
