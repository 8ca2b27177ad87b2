"""``random_forest``: a size-bounded random forest of one pixel's bands, stored as ONNX.

scikit-learn's ``RandomForestClassifier`` (Breiman 2001, "Random forests", Machine Learning 45, 5-32),
the classical baseline of land-cover mapping, as one of the models the automatic choice compares.
The model file holds it as an ONNX graph (``forest.onnx``, written by skl2onnx): data, never
pickle, and ONNX Runtime predicts it without TensorFlow or scikit-learn.

Bounded: :data:`N_TREES` trees of at most :data:`MAX_LEAVES` leaves, so that the file stays at a few
megabytes whatever the number of samples (a full-depth RandomForest-200 of the 73,000 pixels of
the Sentinel-2 scene is a 600 MB ONNX file that takes minutes to convert). The graph takes the
scaled network inputs ``(n, n_inputs)`` like the other per-pixel families and gives probabilities
``(n, n_classes)`` of every legend class (0 for a class the training part lacked).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import FitProgress, FittedNetwork, PredictionGraph, TrainingData
from .per_pixel import PerPixelFamily

N_TREES = 100
MAX_LEAVES = 1024
#: Trees added per step (progress and a chance to cancel between steps; the same forest as one fit).
TREES_PER_STEP = 10
ONNX_OPSET = 17
INPUT_NAME = "inputs"
OUTPUT_NAME = "probabilities"


class ForestGraph:
    """An ONNX forest graph and the ONNX Runtime session that runs it.

    Parameters
    ----------
    serialized : bytes
        The ONNX model (``ModelProto`` bytes), input ``inputs`` float32 ``(n, n_inputs)``, output
        ``probabilities`` float32 ``(n, n_classes)``.
    """

    def __init__(self, serialized: bytes) -> None:
        import onnxruntime

        self.serialized = serialized
        options = onnxruntime.SessionOptions()
        self.session = onnxruntime.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])
        self.n_inputs = int(self.session.get_inputs()[0].shape[1])
        self.n_classes = int(self.session.get_outputs()[0].shape[1])

    def predict_proba(self, inputs: np.ndarray) -> np.ndarray:
        """Probabilities float32 ``(n, n_classes)`` of scaled inputs float32 ``(n, n_inputs)``."""
        if len(inputs) == 0:
            return np.zeros((0, self.n_classes), dtype=np.float32)
        feed = {INPUT_NAME: np.ascontiguousarray(inputs, dtype=np.float32)}
        return np.asarray(self.session.run([OUTPUT_NAME], feed)[0], dtype=np.float32)


def forest_to_onnx(forest: Any, n_inputs: int, n_classes: int) -> bytes:
    """The fitted ``forest`` as ONNX bytes: ``inputs (n, n_inputs) -> probabilities (n, n_classes)``.

    skl2onnx gives the probabilities of the classes the forest saw (``forest.classes_``); a constant
    0/1 matrix spreads them onto every legend class.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx import to_onnx

    model = to_onnx(forest, np.zeros((1, n_inputs), dtype=np.float32),
                    options={id(forest): {"zipmap": False}}, target_opset=ONNX_OPSET)
    graph = model.graph
    forest_input, forest_output = graph.input[0].name, "forest_probabilities"
    for node in graph.node:
        node.input[:] = [INPUT_NAME if name == forest_input else name for name in node.input]
        node.output[:] = [forest_output if name == OUTPUT_NAME else name for name in node.output]
    spread = np.zeros((len(forest.classes_), n_classes), dtype=np.float32)
    spread[np.arange(len(forest.classes_)), forest.classes_.astype(np.int64)] = 1.0
    graph.initializer.append(numpy_helper.from_array(spread, "legend_columns"))
    graph.node.append(helper.make_node("MatMul", [forest_output, "legend_columns"], [OUTPUT_NAME],
                                       name="to_legend_classes"))
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", n_inputs]))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", n_classes]))
    onnx.checker.check_model(model)
    return model.SerializeToString()


class RandomForest(PerPixelFamily):
    name = "random_forest"
    description = (f"a random forest ({N_TREES} trees of at most {MAX_LEAVES} leaves) of one pixel's bands, "
                   "stored as ONNX")
    position = 5
    network_member = "forest.onnx"
    auto_candidate = True

    def fit(self, data: TrainingData, settings: Any, patch_size: int, progress: FitProgress
            ) -> FittedNetwork:
        """Grow the forest (seeded by ``settings.seed``, all cores) in steps of
        :data:`TREES_PER_STEP` trees, then convert it to ONNX. The validation part is not used."""
        from sklearn.ensemble import RandomForestClassifier

        started = time.monotonic()
        forest = RandomForestClassifier(n_estimators=0, max_leaf_nodes=MAX_LEAVES, warm_start=True,
                                        class_weight=data.class_weight, n_jobs=os.cpu_count(),
                                        random_state=settings.seed)
        for grown in range(TREES_PER_STEP, N_TREES + 1, TREES_PER_STEP):
            forest.set_params(n_estimators=grown)
            forest.fit(data.x_train, data.y_train)
            progress.reporter.progress(progress.start + (progress.stop - progress.start) * grown / N_TREES)
        network = ForestGraph(forest_to_onnx(forest, int(data.x_train.shape[1]), data.n_classes))
        fit_seconds = time.monotonic() - started
        leaves = sum(int(tree.tree_.n_leaves) for tree in forest.estimators_)
        progress.reporter.log(f"{progress.label}grew {N_TREES} trees ({leaves} leaves, "
                              f"{len(network.serialized) / 1e6:.1f} MB as ONNX) in {fit_seconds:.0f} s.")
        return FittedNetwork(network, {}, 0, 0, fit_seconds)

    def predict_inputs(self, network: ForestGraph, inputs: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        return network.predict_proba(inputs)

    # --- the model file ---------------------------------------------------------------------
    def library_versions(self) -> dict[str, str]:
        import onnx
        import onnxruntime
        import skl2onnx

        return {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
                "skl2onnx": skl2onnx.__version__}

    def save_network(self, network: ForestGraph, path: str) -> None:
        with open(path, "wb") as handle:
            handle.write(network.serialized)

    def load_network(self, path: str) -> ForestGraph:
        """ONNX bytes into an ONNX Runtime session (data only: no code runs from the file)."""
        with open(path, "rb") as handle:
            return ForestGraph(handle.read())

    def network_shapes(self, network: ForestGraph) -> tuple[tuple, tuple]:
        return (network.n_inputs,), (network.n_classes,)

    # --- prediction -------------------------------------------------------------------------
    def prediction_graph(self, network: ForestGraph, patch_size: int) -> PredictionGraph:
        return PredictionGraph(network, per_pixel=True, halo=0)

    def graph_runner(self, graph: PredictionGraph) -> Callable[[np.ndarray], np.ndarray]:
        return graph.network.predict_proba


FAMILY = RandomForest()
