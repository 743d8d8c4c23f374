"""The curve and summation choices of `AUC`, as Keras' `metrics_utils` enums.

They are `str` enums: `AUC(curve="PR").curve` is `AUCCurve.PR`, which also equals `"PR"`,
and configs hold the plain strings.
"""

from enum import Enum


class AUCCurve(str, Enum):
    """Which curve `AUC` integrates: ROC, precision-recall, or precision-recall gain."""

    ROC = "ROC"
    PR = "PR"
    PRGAIN = "PRGAIN"

    @staticmethod
    def from_str(key):
        """The curve named `key` ("ROC"/"roc", "PR"/"pr", "PRGAIN"/"prgain")."""
        for curve in AUCCurve:
            if key in (curve.value, curve.value.lower()):
                return curve
        raise ValueError(f'Invalid AUC curve value: "{key}". '
                         'Expected values are ["PR", "ROC", "PRGAIN"]')


class AUCSummationMethod(str, Enum):
    """How `AUC` sums the areas between thresholds (Riemann sums).

    "interpolation": mid-point rule for ROC, Davis & Goadrich's interpolation for PR;
    "minoring": the smaller end of each interval; "majoring": the larger end.
    """

    INTERPOLATION = "interpolation"
    MAJORING = "majoring"
    MINORING = "minoring"

    @staticmethod
    def from_str(key):
        """The method named `key` (lower case or capitalized)."""
        for method in AUCSummationMethod:
            if key in (method.value, method.value.capitalize()):
                return method
        raise ValueError(f'Invalid AUC summation method value: "{key}". '
                         'Expected values are ["interpolation", "majoring", "minoring"]')
