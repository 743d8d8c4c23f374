"""The error every export failure raises."""


class ExportError(ValueError):
    """A model (or one of its ops) cannot be exported; the message says which and why."""
