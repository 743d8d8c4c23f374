"""Callbacks: objects that hook into `fit`, `evaluate` and `predict` (`keras.callbacks`)."""

from numnet.callbacks.callback import Callback
from numnet.callbacks.callback_list import CallbackList
from numnet.callbacks.history import History
from numnet.callbacks.progbar import Progbar
from numnet.callbacks.progbar_logger import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "Progbar", "ProgbarLogger"]
