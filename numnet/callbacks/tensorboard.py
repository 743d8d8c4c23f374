"""`TensorBoard`: writes training curves and weight histograms for TensorBoard.

The event files are the ones `keras.callbacks.TensorBoard` writes (same
folders, tags, steps and summary kinds), produced with the `tensorboard`
package's own writer and summary helpers, which need neither TensorFlow nor
Keras. Install them with `pip install "numnet[tensorboard]"`; then run
`tensorboard --logdir logs` and open the page it prints.
"""

import io
import os
import time
import types

import numpy as np

from numnet.callbacks.callback import Callback, is_chief
from numnet.callbacks.learning_rate_scheduler import log_rates

_INSTALL_HINT = (
    "The TensorBoard callback writes its event files with the `tensorboard` package, "
    "which is not installed. Install it with `pip install \"numnet[tensorboard]\"` "
    "(or `pip install tensorboard`)."
)


def _tensorboard_modules():
    """The parts of the `tensorboard` package the callback uses (a clear error if missing)."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.histogram import summary_v2 as histogram_summary
        from tensorboard.plugins.image import metadata as image_metadata
        from tensorboard.plugins.scalar import summary_v2 as scalar_summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
        from tensorboard.util import tensor_util
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error
    return types.SimpleNamespace(
        event_pb2=event_pb2, summary_pb2=summary_pb2, histogram=histogram_summary.histogram_pb,
        scalar=scalar_summary.scalar_pb, EventFileWriter=EventFileWriter,
        tensor_util=tensor_util, image_metadata=image_metadata)


class _SummaryWriter:
    """One event file: summaries become `Event`s with a step and the wall time."""

    def __init__(self, tb, logdir):
        self._tb = tb
        self._file = tb.EventFileWriter(logdir)

    def write(self, summary, step):
        event = self._tb.event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary)
        self._file.add_event(event)

    def scalar(self, tag, value, step):
        self.write(self._tb.scalar(tag, np.float32(value)), step)

    def histogram(self, tag, values, step):
        self.write(self._tb.histogram(tag, np.asarray(values)), step)

    def image(self, tag, images, step, max_outputs=3):
        """PNG images from a float array `(n, height, width, channels)`, as `tf.summary.image`.

        Values are scaled by 255.5 and saturated to [0, 255] (TensorFlow's
        float -> uint8 conversion); at most `max_outputs` images are kept.
        """
        from PIL import Image  # a dependency of the tensorboard package

        pixels = np.clip(np.asarray(images, dtype=np.float32) * np.float32(255.5), 0, 255)
        pixels = pixels.astype(np.uint8)[:max_outputs]
        encoded = []
        for picture in pixels:
            buffer = io.BytesIO()
            mode = {1: "L", 3: "RGB", 4: "RGBA"}[picture.shape[-1]]
            data = picture[..., 0] if picture.shape[-1] == 1 else picture
            Image.fromarray(data, mode=mode).save(buffer, format="PNG")
            encoded.append(buffer.getvalue())
        height, width = pixels.shape[1], pixels.shape[2]
        content = np.array([str(width).encode(), str(height).encode()] + encoded, dtype=object)
        summary = self._tb.summary_pb2.Summary()
        summary.value.add(tag=tag, tensor=self._tb.tensor_util.make_tensor_proto(content),
                          metadata=self._tb.image_metadata.create_summary_metadata(
                              display_name=None, description=None))
        self.write(summary, step)

    def flush(self):
        self._file.flush()

    def close(self):
        self._file.close()


class _NoWriter:
    """What the ranks other than 0 of a distributed job write: nothing (rank 0 writes)."""

    def write(self, summary, step):
        pass

    scalar = histogram = image = lambda self, *args, **kwargs: None

    def flush(self):
        pass

    def close(self):
        pass


class TensorBoard(Callback):
    """Writes logs for TensorBoard, as `keras.callbacks.TensorBoard`.

    Under `log_dir/train` and `log_dir/validation` it writes, per epoch,
    `epoch_<name>` scalars for every entry of the epoch logs (the `val_`
    prefix dropped under `validation/`) plus `epoch_learning_rate`; after
    every evaluation (including `fit`'s validation),
    `evaluation_<name>_vs_iterations` at the optimizer's step; with an
    integer `update_freq`, `batch_<name>` scalars (the running epoch
    averages) every `update_freq` batches, counted over the whole run; with
    `histogram_freq`, a `<weight path>/histogram` histogram of every layer
    weight every `histogram_freq` epochs; with `write_graph`, the model's
    JSON config under the tag `keras` (TensorBoard's Keras model graph).

    As in Keras, an integer `update_freq` also gates the other summaries:
    epoch scalars and histograms are only written when the run's batch count
    is a multiple of it at the epoch's end, `evaluation_*` scalars when the
    run's count of evaluation batches is.

    Args:
        log_dir: the folder of the event files, default "logs".
        histogram_freq: how often (in epochs) to write weight histograms; 0 (default): never.
        write_graph: write the model's architecture (Sequential and Functional models).
        write_images: with `histogram_freq`, also write each weight as an image
            (`<weight path>/image`; vectors as one row, matrices with their
            shorter side as height).
        write_steps_per_second: also write `epoch_steps_per_second` (and
            `batch_steps_per_second` with batch-level logging). The batch
            value is measured from the previous batch's end.
        update_freq: "epoch" (default), "batch" (= 1) or an integer number of batches.
        profile_batch: must be 0: numnet has no profiler for TensorBoard.
        embeddings_freq: how often (in epochs) to save the model's weights
            for the embedding projector (`train/keras_embedding.ckpt-<epoch>.weights.h5`).
        embeddings_metadata: per-`Embedding`-layer metadata file names (or one name).
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        self._tb = _tensorboard_modules()
        self.log_dir = str(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        if self.update_freq != "epoch" and (not isinstance(self.update_freq, int)
                                            or self.update_freq < 1):
            raise ValueError('`update_freq` must be "epoch", "batch" or a positive integer. '
                             f"Received: update_freq={update_freq!r}")
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        if profile_batch:
            raise ValueError(
                "Profiling is not available with numnet. Received: "
                f"profile_batch={profile_batch} (must be 0)"
            )
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._previous_epoch_iterations = 0
        self._epoch_start_time = 0.0
        self._last_batch_time = 0.0
        self._writers = {}
        self._contexts = []  # "train" / "val": the record_if contexts Keras has pushed

    # -- writers ----------------------------------------------------------
    def _writer(self, which):
        if not is_chief():
            return _NoWriter()
        if which not in self._writers:
            folder = self._train_dir if which == "train" else self._val_dir
            self._writers[which] = _SummaryWriter(self._tb, folder)
        return self._writers[which]

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def set_model(self, model):
        super().set_model(model)
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._close_writers()
        if self.write_graph:
            self._write_model_config()
        if self.embeddings_freq and is_chief():
            self._configure_embeddings()

    def _write_model_config(self):
        """The model's JSON under the tag "keras", for TensorBoard's Keras graph view."""
        if type(self.model).__name__ not in ("Functional", "Sequential"):
            return
        tb = self._tb
        metadata = tb.summary_pb2.SummaryMetadata()
        metadata.plugin_data.plugin_name = "graph_keras_model"
        metadata.plugin_data.content = b"1"
        tensor = tb.tensor_util.make_tensor_proto(
            np.array(self.model.to_json().encode("utf-8"), dtype=object))
        summary = tb.summary_pb2.Summary()
        summary.value.add(tag="keras", metadata=metadata, tensor=tensor)
        writer = self._writer("train")
        writer.write(summary, step=0)
        # Written through now, not by the writer's thread later: a callback set on a model
        # and dropped without training leaves a complete file and nothing pending.
        writer.flush()

    def _configure_embeddings(self):
        """Writes `projector_config.pbtxt` naming each `Embedding` layer's weights."""
        try:
            from google.protobuf import text_format
            from tensorboard.plugins import projector
        except ImportError as error:
            raise ImportError(_INSTALL_HINT) from error
        config = projector.ProjectorConfig()
        metadata = self.embeddings_metadata
        remaining = dict(metadata) if isinstance(metadata, dict) else None
        for layer in self.model.layers:
            if type(layer).__name__ != "Embedding":
                continue
            embedding = config.embeddings.add()
            embedding.tensor_name = "layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE"
            if isinstance(metadata, str):
                embedding.metadata_path = metadata
            elif remaining and layer.name in remaining:
                embedding.metadata_path = remaining.pop(layer.name)
        if remaining:
            raise ValueError(
                "Unrecognized `Embedding` layer names passed to "
                "`numnet.callbacks.TensorBoard` `embeddings_metadata` argument: "
                f"{remaining.keys()}"
            )
        os.makedirs(self.log_dir, exist_ok=True)
        with open(os.path.join(self.log_dir, "projector_config.pbtxt"), "w") as f:
            f.write(text_format.MessageToString(config))

    # -- hooks --------------------------------------------------------------
    # With an integer `update_freq`, Keras writes through TensorFlow's
    # `record_if(step % update_freq == 0)` context, pushed for training
    # (step: the run's batch count) and for each evaluation (step: the count of
    # evaluation batches, over the whole run) and popped when they end. Every
    # summary written meanwhile obeys it, epoch scalars and histograms too:
    # `_recording()` reproduces that.
    def _recording(self):
        if self.update_freq == "epoch" or not self._contexts:
            return True
        count = self._global_train_batch if self._contexts[-1] == "train" \
            else self._global_test_batch
        return count % self.update_freq == 0

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0
        self._contexts = ["train"]

    def on_train_end(self, logs=None):
        self._contexts = []
        self._close_writers()

    def on_test_begin(self, logs=None):
        self._contexts.append("val")

    def on_test_batch_end(self, batch, logs=None):
        self._global_test_batch += 1

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "iterations") and logs and \
                self._recording():
            step = int(np.asarray(getattr(optimizer.iterations, "data", optimizer.iterations)))
            writer = self._writer("val")
            for name, value in logs.items():
                writer.scalar(f"evaluation_{name}_vs_iterations", value, step)
            writer.flush()  # `evaluate` alone never reaches `on_train_end`
        if self._contexts:
            self._contexts.pop()

    def _batch_logs_needed(self, batch):
        """Whether the coming `on_train_batch_end` writes (lets `fit` skip the others' logs)."""
        return self.update_freq != "epoch" and (self._global_train_batch + 1) % \
            self.update_freq == 0

    def on_train_batch_end(self, batch, logs=None):
        self._global_train_batch += 1
        now = time.time()
        batch_time, self._last_batch_time = now - self._last_batch_time, now
        if self.update_freq == "epoch" or not self._recording():
            return
        writer = self._writer("train")
        step = self._global_train_batch
        if self.write_steps_per_second and batch_time > 0:
            writer.scalar("batch_steps_per_second", 1.0 / batch_time, step)
        if isinstance(logs, dict):
            for name, value in logs.items():
                writer.scalar(f"batch_{name}", value, step)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start_time = self._last_batch_time = time.time()
        if self.write_steps_per_second:
            self._previous_epoch_iterations = self._iterations()

    def on_epoch_end(self, epoch, logs=None):
        if self._recording():
            self._log_epoch_metrics(epoch, logs)
            if self.histogram_freq and epoch % self.histogram_freq == 0:
                self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            path = os.path.join(self.log_dir, "train",
                                f"keras_embedding.ckpt-{epoch}.weights.h5")
            self.model.save_weights(path)

    # -- epoch summaries ----------------------------------------------------
    def _iterations(self):
        optimizer = getattr(self.model, "optimizer", None)
        iterations = getattr(optimizer, "iterations", 0)
        return float(np.asarray(getattr(iterations, "data", iterations)))

    def _collect_learning_rate(self, logs):
        """Adds the learning rates to `logs` (Keras' name for this step; see
        `learning_rate_scheduler.log_rates`)."""
        return log_rates(self.model, logs)

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        self._collect_learning_rate(train_logs)
        if self.write_steps_per_second:
            elapsed = time.time() - self._epoch_start_time
            steps = self._iterations() - self._previous_epoch_iterations
            train_logs["steps_per_second"] = steps / elapsed if elapsed > 0 else 0.0
        for which, values in (("train", train_logs), ("val", val_logs)):
            if values:
                writer = self._writer(which)
                for name, value in values.items():
                    writer.scalar(f"epoch_{name}", value, epoch)
                writer.flush()  # visible to a running TensorBoard at once

    def _log_weights(self, epoch):
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = str(weight.path).replace(":", "_")
                writer.histogram(f"{name}/histogram", weight.numpy(), epoch)
                if self.write_images:
                    image = _weight_as_image(weight.numpy())
                    if image is not None:
                        writer.image(f"{name}/image", image, epoch)
        writer.flush()


def _weight_as_image(weight):
    """A weight laid out as a batch of images `(n, height, width, channels)`, as Keras does.

    Vectors become one row, matrices are transposed to be wider than tall,
    rank-3 kernels become one image per output channel; None for what has no
    picture (larger ranks, or channel counts other than 1, 3 or 4).
    """
    image = np.squeeze(weight)
    if image.ndim == 1:
        image = image.reshape(1, image.shape[0], 1, 1)
    elif image.ndim == 2:
        if image.shape[0] > image.shape[1]:
            image = image.T
        image = image.reshape(1, image.shape[0], image.shape[1], 1)
    elif image.ndim == 3:
        image = np.transpose(image, (2, 0, 1))[..., None]
    if image.ndim == 4 and image.shape[-1] in (1, 3, 4):
        return image
    return None
