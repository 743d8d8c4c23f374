"""Where numnet's messages go: the terminal, or Python's `logging` (Keras' interactive logging).

Interactive logging (the default) prints callback messages ("Epoch 3: early
stopping", "ReduceLROnPlateau reducing learning rate to ...") to stdout. A job
running on a server can turn it off with `disable_interactive_logging()`:
the same messages then go to the `numnet` logger at level INFO, where the
application's logging configuration collects them. Keras sends them to
`absl.logging` in that case; numnet has no absl dependency, and absl's
handlers sit on Python's `logging` too.
"""

import logging
import sys

_STATE = {"interactive": True}
LOGGER = logging.getLogger("numnet")


def enable_interactive_logging():
    """Turns interactive logging on: messages are printed to stdout (the default)."""
    _STATE["interactive"] = True


def disable_interactive_logging():
    """Turns interactive logging off: messages go to the `numnet` logger (level INFO)."""
    _STATE["interactive"] = False


def is_interactive_logging_enabled():
    """Whether messages are printed to stdout (True) or sent to `logging` (False)."""
    return _STATE["interactive"]


def print_msg(message, line_break=True):
    """Prints `message` to stdout, or logs it at INFO when interactive logging is off."""
    message = str(message)
    if is_interactive_logging_enabled():
        sys.stdout.write(f"{message}\n" if line_break else message)
        sys.stdout.flush()
    else:
        LOGGER.info(message)


__all__ = ["disable_interactive_logging", "enable_interactive_logging",
           "is_interactive_logging_enabled", "print_msg"]
