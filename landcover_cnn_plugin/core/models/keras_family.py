"""Keras families: the network built with Keras 3, fitted by ``model.fit``, stored as ``model.keras``.

:class:`KerasFamily` implements the network half of :class:`~.base.ModelFamily`; a concrete family
adds its input geometry (``PerPixelFamily`` or ``PatchFamily``) and :meth:`KerasFamily.build_network`.
Keras and TensorFlow are imported inside the methods.
"""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from ..mixup import mixup_dataset
from .base import FitProgress, FittedNetwork, ModelFamily, PredictionGraph, TrainingData

#: Batches run per compiled call (fewer Python round trips; the same updates).
STEPS_PER_EXECUTION = 16
#: Quantity that early stopping watches on the validation part (lower is better).
EARLY_STOPPING_MONITOR = "val_loss"
#: The cosine schedule ends at this share of the starting learning rate.
COSINE_FLOOR = 0.01


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``).

    On the CPU, TensorFlow's kernels for these networks are deterministic once seeded (a test
    trains twice and compares). ``tf.config.experimental.enable_op_determinism`` is not
    called: it is process-wide and makes every unseeded random op elsewhere raise.
    """
    import keras

    keras.utils.set_random_seed(int(seed))


def _epoch_callback(progress: FitProgress, epochs: int) -> Any:
    import keras

    class EpochReporter(keras.callbacks.Callback):
        """Reports each epoch as progress and a log line."""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            progress.epoch_done(epoch, epochs, logs or {})

    return EpochReporter()


class KerasFamily(ModelFamily):
    """A family whose network is a Keras model (compiled with Adam and categorical cross-entropy)."""

    network_member = "model.keras"

    @abstractmethod
    def build_network(self, n_inputs: int, n_classes: int, patch_size: int) -> Any:
        """The uncompiled network: scaled inputs ``(*input_shape)`` -> softmax ``(n_classes,)``.

        Weights are initialised from Keras' global generator, which :meth:`fit` seeds.
        """

    def custom_objects(self) -> dict[str, Any]:
        """Layer classes of the network that Keras does not know (loaded with ``safe_mode=True``)."""
        return {}

    def needs_validation(self, settings: Any) -> bool:
        return settings.schedule == "early_stopping"

    def compiled_network(self, n_inputs: int, n_classes: int, patch_size: int = 1,
                         learning_rate: Any = 0.001, steps_per_execution: int = 1) -> Any:
        """:meth:`build_network`, compiled: Adam (``learning_rate``: a number or a Keras schedule),
        categorical cross-entropy with the family's label smoothing, accuracy."""
        import keras

        network = self.build_network(n_inputs, n_classes, patch_size)
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=self.defaults.label_smoothing)
        network.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss,
                        metrics=["accuracy"], steps_per_execution=steps_per_execution)
        return network

    def fit(self, data: TrainingData, settings: Any, patch_size: int, progress: FitProgress
            ) -> FittedNetwork:
        """Fit on the settings' schedule, with per-epoch progress, class weights, and mixup
        batches where the family uses them.

        ``cosine``: ``max(epochs, ceil(min_steps / steps per epoch))`` epochs over every training
        row, the learning rate decaying along a cosine from ``learning_rate`` to 1/100 of it.
        ``early_stopping``: at most ``epochs`` at the constant ``learning_rate``, stopping when the
        validation loss has not improved for ``patience`` epochs (the best weights restored); without
        validation rows (the final fit after cross-validation) exactly ``epochs``.

        Why cosine is the default (five polygon-grouped folds of two scenes, README "Benchmark"):
        the validation polygons carved from the training part are few per class (one pavement
        polygon on the Berlin set), and early stopping on them quit at epoch 1-3 on the Sentinel-2
        scene; the fixed schedule over every training polygon scored higher on both.

        ``settings``: ``seed``, ``schedule``, ``epochs``, ``min_steps``, ``batch_size``,
        ``patience``, ``learning_rate`` (resolved).
        """
        import keras

        set_seed(settings.seed)
        y_train = keras.utils.to_categorical(data.y_train, data.n_classes)
        early = self.needs_validation(settings) and len(data.y_validation) > 0
        validation = ((data.x_validation, keras.utils.to_categorical(data.y_validation, data.n_classes))
                      if early else None)
        cosine = settings.schedule == "cosine"
        steps = max(1, math.ceil(len(data.y_train) / settings.batch_size))
        epochs = max(settings.epochs, math.ceil(settings.min_steps / steps)) if cosine else settings.epochs
        learning_rate = keras.optimizers.schedules.CosineDecay(
            settings.learning_rate, decay_steps=steps * epochs, alpha=COSINE_FLOOR) if cosine \
            else settings.learning_rate
        n_inputs = int(data.x_train.shape[-1])
        network = self.compiled_network(n_inputs, data.n_classes, patch_size, learning_rate,
                                        STEPS_PER_EXECUTION)
        callbacks = [_epoch_callback(progress, epochs)]
        if early:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=EARLY_STOPPING_MONITOR, patience=settings.patience, restore_best_weights=True))
        started = time.monotonic()
        alpha = self.defaults.mixup_alpha
        if alpha:
            batches = mixup_dataset(data.x_train, y_train, settings.batch_size, alpha, settings.seed,
                                    data.class_weight)
            fitted = network.fit(batches, epochs=epochs, validation_data=validation, shuffle=False,
                                 callbacks=callbacks, verbose=0)
        else:
            fitted = network.fit(data.x_train, y_train, batch_size=settings.batch_size, epochs=epochs,
                                 validation_data=validation, class_weight=data.class_weight, shuffle=True,
                                 callbacks=callbacks, verbose=0)
        fit_seconds = time.monotonic() - started
        history = {key: [float(v) for v in values] for key, values in fitted.history.items()}
        epochs_run = len(history.get("loss", []))
        if early:
            best_epoch = int(np.argmin(history[EARLY_STOPPING_MONITOR])) + 1
            how = f"best {EARLY_STOPPING_MONITOR} at epoch {best_epoch}, weights restored"
        else:
            best_epoch = epochs_run
            how = (f"cosine schedule, {steps * epochs} steps of {settings.batch_size}" if cosine
                   else "fixed number of epochs")
        progress.reporter.log(f"{progress.label}trained {epochs_run} epochs ({how}) in {fit_seconds:.0f} s.")
        return FittedNetwork(network, history, epochs_run, best_epoch, fit_seconds)

    def predict_inputs(self, network: Any, inputs: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        return np.asarray(network.predict(inputs, batch_size=batch_size, verbose=0), dtype=np.float32)

    # --- the model file ---------------------------------------------------------------------
    def library_versions(self) -> dict[str, str]:
        import keras
        import tensorflow as tf

        return {"tensorflow": tf.__version__, "keras": keras.__version__}

    def save_network(self, network: Any, path: str) -> None:
        network.save(path)

    def load_network(self, path: str) -> Any:
        """Keras' native format with ``safe_mode=True`` (no Python code runs from the file)."""
        import keras

        return keras.saving.load_model(path, compile=False, safe_mode=True,
                                       custom_objects=self.custom_objects() or None)

    def network_shapes(self, network: Any) -> tuple[tuple, tuple]:
        return tuple(network.inputs[0].shape[1:]), tuple(network.outputs[0].shape[1:])

    # --- prediction -------------------------------------------------------------------------
    def graph_runner(self, graph: PredictionGraph) -> Callable[[np.ndarray], np.ndarray]:
        """Per pixel: one traced ``tf.function`` (no ``Model.predict`` overhead per call; one trace
        for every batch length). Fully convolutional: the network called eagerly on each strip."""
        network = graph.network
        if graph.per_pixel:
            import tensorflow as tf

            spec = tf.TensorSpec((None, *network.inputs[0].shape[1:]), tf.float32)
            function = tf.function(lambda x: network(x, training=False), input_signature=[spec])
            return lambda batch: function(batch).numpy()
        from keras import ops

        return lambda strip: ops.convert_to_numpy(network(strip, training=False))

    def onnx_graph(self, graph: PredictionGraph) -> bytes:
        """Converted by tf2onnx (``keras_onnx``)."""
        from .keras_onnx import keras_graph_to_onnx

        return keras_graph_to_onnx(graph)
