"""Callbacks: objects that hook into `fit`, `evaluate` and `predict` (`keras.callbacks`)."""

from numnet.callbacks.backup_and_restore import BackupAndRestore
from numnet.callbacks.callback import Callback
from numnet.callbacks.callback_list import CallbackList
from numnet.callbacks.csv_logger import CSVLogger
from numnet.callbacks.early_stopping import EarlyStopping
from numnet.callbacks.history import History
from numnet.callbacks.lambda_callback import LambdaCallback
from numnet.callbacks.learning_rate_scheduler import LearningRateScheduler
from numnet.callbacks.model_checkpoint import ModelCheckpoint
from numnet.callbacks.monitor import MonitorCallback
from numnet.callbacks.progbar import Progbar
from numnet.callbacks.progbar_logger import ProgbarLogger
from numnet.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from numnet.callbacks.remote_monitor import RemoteMonitor
from numnet.callbacks.swap_ema_weights import SwapEMAWeights
from numnet.callbacks.tensorboard import TensorBoard
from numnet.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping",
           "History", "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint",
           "MonitorCallback", "Progbar", "ProgbarLogger", "ReduceLROnPlateau", "RemoteMonitor",
           "SwapEMAWeights", "TensorBoard", "TerminateOnNaN"]
