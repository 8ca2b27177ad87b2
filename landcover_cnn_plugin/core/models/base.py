"""The contract of a model family (:class:`ModelFamily`) and the values that cross it.

A *model family* is everything one model type does: its name and description, its benchmarked
defaults, the training inputs it takes, how its network is built, fitted, stored in the model
file and loaded, and how a loaded model predicts a raster block and sample points. The trainer,
the model file, classification and evaluation call these methods and never ask which family they
hold. One subclass per model type, in its own module of this package; the registry
(``core.models``) finds it.

Two kinds of building blocks combine into a family (see the concrete families):

* the input geometry: :class:`~.per_pixel.PerPixelFamily` (one pixel's bands) or
  :class:`~.patch.PatchFamily` (a k x k patch around the pixel);
* the network kind: :class:`~.keras_family.KerasFamily` (a Keras network in ``model.keras``).
  A family of another kind (e.g. a scikit-learn forest stored as ONNX) implements the
  network methods itself: nothing outside the family assumes Keras.

Everything here is importable without Keras (the QGIS process lists the families).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from ..balancing import DEFAULT_BALANCE
from ..errors import UserInputError
from ..indices import NO_DERIVED
from ..progress import Reporter

#: Training schedules of the networks. ``cosine``: every training polygon is fitted (no validation
#: part) for a fixed number of epochs while the learning rate decays along a cosine to 1/100 of its
#: start. ``early_stopping``: whole polygons of the training part are held out as a validation
#: part, and training stops when its loss has not improved for ``patience`` epochs.
SCHEDULES = ("cosine", "early_stopping")
#: The training default: each family's benchmarked schedule (``FamilyDefaults.schedule``).
AUTO_SCHEDULE = "auto"
#: Member of the model file (format 3) holding the prediction graph as ONNX, unless the family's
#: network is itself an ONNX graph (:attr:`ModelFamily.network_is_onnx`): then that member is the graph.
ONNX_MEMBER = "model.onnx"
#: ONNX opset of the prediction graphs: ONNX Runtime 1.12 and later run it (Deepness installs
#: onnxruntime 1.12.1 to 1.17.0).
ONNX_OPSET = 17
#: Names of the prediction graph's input (scaled network inputs) and output (class probabilities).
ONNX_INPUT = "inputs"
ONNX_OUTPUT = "probabilities"


@dataclass(frozen=True)
class FamilyDefaults:
    """What the "auto" training settings mean for a family, and its fixed training choices.

    Attributes
    ----------
    balance : str
        Class balancing that "auto" picks (``core.balancing``).
    derived_features : str
        Derived input channels that "auto" picks (``core.indices``).
    label_smoothing : float
        Label smoothing of the cross-entropy (Szegedy et al. 2016): the targets become
        ``1 - s + s / n_classes`` and ``s / n_classes``, which keeps a network that fits its training
        polygons within a few epochs from growing over-confident.
    mixup_alpha : float
        Mixup (``core.mixup``; Zhang et al. 2018): train on Beta(alpha, alpha) mixes of pairs of
        training samples and their targets; 0 = off.
    schedule : str
        Training schedule that "auto" picks (:data:`SCHEDULES`).
    epochs : int
        Epochs that "auto" (0) picks: the length of the cosine schedule, or the most epochs
        early stopping may run.
    min_steps : int
        With "auto" epochs, at least this many gradient steps: a small training set gets more
        epochs, so that a network sees as many batches on 2,000 pixels as on 70,000.
    """

    balance: str = DEFAULT_BALANCE
    derived_features: str = NO_DERIVED
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    schedule: str = "cosine"
    epochs: int = 30
    min_steps: int = 2000


class InputProvider(Protocol):
    """The training inputs of a family for the rows of a samples table (the trainer's only view).

    Split, balancing, scaling, early stopping, metrics and the model file are shared by every
    family because every provider offers these members.
    """

    patch_size: int  # 1: per pixel
    derived_features: str  # concrete (core.indices)
    n_inputs: int  # network input channels: bands + derived

    def fit_scaler(self, rows: np.ndarray) -> Any:
        """``ZScoreScaler`` of the network inputs of ``rows`` (the training rows)."""

    def inputs(self, rows: np.ndarray, scaler: Any) -> np.ndarray:
        """Scaled network inputs of ``rows``: float32 ``(len(rows), *input_shape)``."""


@dataclass(frozen=True)
class TrainingData:
    """What a family fits on: scaled inputs and class ids (0 .. n_classes - 1).

    Attributes
    ----------
    x_train, x_validation : numpy.ndarray
        float32 ``(n, *input_shape)`` from :meth:`InputProvider.inputs` (or SMOTE rows).
    y_train, y_validation : numpy.ndarray
        int ``(n,)`` class ids. The validation part is empty unless the family
        :meth:`ModelFamily.needs_validation`.
    class_weight : dict[int, float] or None
        Loss weight per class id (``balance="class_weights"``).
    n_classes : int
        Classes of the legend (outputs of the network).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_validation: np.ndarray
    y_validation: np.ndarray
    class_weight: dict[int, float] | None
    n_classes: int


@dataclass(frozen=True)
class FitProgress:
    """Where a fit reports: progress from ``start`` to ``stop`` percent, log lines prefixed by ``label``."""

    reporter: Reporter
    start: float
    stop: float
    label: str = ""

    def epoch_done(self, epoch: int, epochs: int, figures: Mapping[str, float]) -> None:
        """Report the end of epoch ``epoch`` (0-based) of at most ``epochs``."""
        self.reporter.progress(self.start + (self.stop - self.start) * (epoch + 1) / max(1, epochs))
        parts = [f"{key} {float(figures[key]):.4f}" for key in
                 ("loss", "accuracy", "val_loss", "val_accuracy") if key in figures]
        self.reporter.log(f"{self.label}epoch {epoch + 1}/{epochs}: {', '.join(parts)}")


@dataclass(frozen=True)
class FittedNetwork:
    """A fitted network and how its fit went.

    Attributes
    ----------
    network : object
        The family's network (a ``keras.Model`` for Keras families).
    history : dict[str, list[float]]
        Per-epoch figures (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``).
    epochs_run, best_epoch : int
        Epochs trained; the epoch whose weights were kept (1-based; the last one without early
        stopping).
    fit_seconds : float
    """

    network: Any
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    fit_seconds: float


@dataclass(frozen=True)
class PredictionGraph:
    """A trained network in the form that predicts maps (what an engine runs, what an export writes).

    Attributes
    ----------
    network : object
        The graph (a ``keras.Model`` for Keras families).
    per_pixel : bool
        True: takes ``(n, n_inputs)`` scaled pixels and returns ``(n, n_classes)`` probabilities.
        False: fully convolutional, takes ``(1, rows + 2 halo, cols + 2 halo, n_inputs)`` and returns
        ``(1, rows, cols, n_classes)``, output pixel (i, j) being the prediction for input pixel
        (i + halo, j + halo).
    halo : int
        Pixels of context the graph needs on each side (0 per pixel, k // 2 for k x k patches).
    """

    network: Any
    per_pixel: bool
    halo: int


class ModelFamily(ABC):
    """One model type: everything the trainer, the model file and prediction need from it.

    Subclasses set the class attributes and implement the abstract methods; one instance per
    family sits in the registry (``core.models.FAMILIES``). ``settings`` arguments are the
    resolved ``core.settings.TrainingSettings``; ``model`` arguments a loaded model
    (``core.model_file.LoadedModel``).
    """

    #: Key of the family in the registry, the model file and the settings (e.g. "patch_cnn").
    name: ClassVar[str]
    #: One sentence for reports and help, e.g. "a 1-D convolutional network along the band axis...".
    description: ClassVar[str]
    #: Position in the model type choices: the Processing enum index, which saved workflows store.
    #: Never renumber; a new family takes the next free position.
    position: ClassVar[int]
    #: The family's "auto" settings and fixed training choices.
    defaults: ClassVar[FamilyDefaults] = FamilyDefaults()
    #: False: the network sees one pixel's bands; True: a k x k patch cut from the stack raster.
    uses_patches: ClassVar[bool]
    #: Name of the network's file inside the model file (e.g. "model.keras").
    network_member: ClassVar[str]
    #: Among the models the automatic choice compares (``core.model_choice``); patch families only
    #: where the stack raster is given.
    auto_candidate: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"<model family {self.name!r}>"

    @property
    def network_is_onnx(self) -> bool:
        """True when the stored network is itself an ONNX graph under the contract of
        :meth:`onnx_graph` (its member ends in ``.onnx``, e.g. a forest converted by skl2onnx): the
        model file keeps no second copy, and ONNX Runtime runs that member."""
        return self.network_member.endswith(".onnx")

    @property
    def graph_member(self) -> str:
        """The model file's member holding the prediction graph as ONNX."""
        return self.network_member if self.network_is_onnx else ONNX_MEMBER

    # --- training ---------------------------------------------------------------------------
    def settings_problem(self, settings: Any) -> UserInputError | None:
        """Why this family cannot train with ``settings`` (naming the parameter), or None."""
        return None

    def needs_validation(self, settings: Any) -> bool:
        """Whether :meth:`fit` watches a validation part carved from the training polygons."""
        return False

    @abstractmethod
    def input_provider(self, table: Any, settings: Any) -> InputProvider:
        """The training inputs of ``table`` (a ``core.samples.SampleTable``)."""

    @abstractmethod
    def fit(self, data: TrainingData, settings: Any, patch_size: int, progress: FitProgress
            ) -> FittedNetwork:
        """Build a new network and fit it on ``data`` (seeded by ``settings.seed``)."""

    @abstractmethod
    def predict_inputs(self, network: Any, inputs: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """Probabilities float32 ``(n, n_classes)`` of scaled inputs shaped as in training."""

    def example_figure(self, table: Any, rows: np.ndarray, legend: Any, settings: Any) -> bytes | None:
        """PNG for the training report showing what the network sees (None: nothing to show)."""
        return None

    # --- the model file ---------------------------------------------------------------------
    def library_versions(self) -> dict[str, str]:
        """Versions of the libraries the network depends on, recorded in the model file."""
        return {}

    @abstractmethod
    def save_network(self, network: Any, path: str) -> None:
        """Write the network to ``path`` (the file stored as :attr:`network_member`)."""

    @abstractmethod
    def load_network(self, path: str) -> Any:
        """Read a network written by :meth:`save_network`; no code from the file may run."""

    @abstractmethod
    def network_shapes(self, network: Any) -> tuple[tuple, tuple]:
        """Input and output shape of one sample, without the batch axis."""

    @abstractmethod
    def input_shape(self, n_inputs: int, patch_size: int) -> tuple:
        """The input shape of one sample (no batch axis) that the metadata implies."""

    def metadata_problem(self, metadata: Mapping[str, Any]) -> str | None:
        """What is wrong with model-file metadata for this family (None: nothing)."""
        return None

    # --- prediction -------------------------------------------------------------------------
    @abstractmethod
    def prediction_graph(self, network: Any, patch_size: int) -> PredictionGraph:
        """The trained network as a graph that predicts blocks (see :class:`PredictionGraph`)."""

    @abstractmethod
    def graph_runner(self, graph: PredictionGraph) -> Callable[[np.ndarray], np.ndarray]:
        """A function running ``graph`` on one batch (per pixel) or one strip (fully convolutional)."""

    def onnx_graph(self, graph: PredictionGraph) -> bytes:
        """``graph`` as a serialized ONNX model (opset :data:`ONNX_OPSET`), what another engine runs.

        One input :data:`ONNX_INPUT` and one output :data:`ONNX_OUTPUT`, laid out as
        :class:`PredictionGraph` says: per pixel ``(batch, n_inputs) -> (batch, n_classes)``;
        fully convolutional ``(batch, rows + 2 halo, cols + 2 halo, n_inputs) -> (batch, rows, cols,
        n_classes)`` with any rows and cols. The model file checks, when it is saved, that ONNX Runtime
        reproduces :meth:`predict_inputs` within ``1e-5``. Not called for a family whose network
        is an ONNX graph (:attr:`network_is_onnx`: the stored member is the graph). A family without
        a converter raises ``NotImplementedError``: its model files are written without a graph and
        run on their family's own runner (ENGINE tensorflow).
        """
        raise NotImplementedError(f"the {self.name} family has no ONNX converter")

    @abstractmethod
    def predict_block(self, model: Any, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Probabilities float32 ``(n_classes, rows, cols)`` of a block's interior.

        ``values`` float32 ``(bands, rows + 2 halo, cols + 2 halo)`` raw band values in the model's
        feature order, ``valid`` bool ``(rows + 2 halo, cols + 2 halo)``; every class is 0 where the
        pixel itself is invalid.
        """

    @abstractmethod
    def predict_at(self, model: Any, features: np.ndarray, xy: np.ndarray | None,
                   raster: str | None) -> np.ndarray:
        """Probabilities float32 ``(n, n_classes)`` at sample points.

        ``features`` float32 ``(n, bands)`` the points' raw band values; ``xy`` float ``(n, 2)``
        their map coordinates in the CRS of ``raster`` (the stack they come from), needed by
        families that look beyond the pixel.
        """
