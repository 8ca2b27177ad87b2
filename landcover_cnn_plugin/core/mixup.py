"""Mixup: train on convex combinations of pairs of training samples and of their targets.

Zhang, Cisse, Dauphin and Lopez-Paz (2018), "mixup: Beyond empirical risk minimization",
ICLR: each training batch is replaced by ``lam * x_i + (1 - lam) * x_j`` with targets
``lam * y_i + (1 - lam) * y_j``, ``j`` a random partner in the same batch and ``lam`` drawn
from Beta(alpha, alpha). It regularises a network that otherwise fits its training polygons
within a few epochs; ``patch_cnn`` uses it (``FamilyDefaults.mixup_alpha``, figures in
``core.models.patch_cnn``). Here ``lam`` is taken as ``max(lam, 1 - lam)``, so that every training
sample leads exactly one mix per epoch (the same distribution of pairs; the measured variant).

Only training batches are mixed: validation, test and prediction see the real samples.
:func:`mixup_dataset` builds the batches as a ``tf.data`` pipeline (TensorFlow is the Keras
backend this plugin installs), shuffled per epoch and mixed with stateless random ops seeded
from ``seed``: a run is repeatable.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def mix_batch(inputs: Any, targets: Any, alpha: float, seed: Any, class_weight: Any = None
              ) -> tuple[Any, Any, Any]:
    """Mix one batch with a random permutation of itself (TensorFlow ops).

    Parameters
    ----------
    inputs : tensor, shape (n, ...), float32
        The batch's inputs (any trailing shape, e.g. ``(k, k, bands)`` patches).
    targets : tensor, shape (n, n_classes), float32
        One-hot targets.
    alpha : float
        Beta(alpha, alpha) parameter, > 0: small values keep most mixes close to one sample.
    seed : tensor, shape (2,), int
        Seed of the stateless random ops (partner permutation and ``lam``).
    class_weight : tensor, shape (n_classes,), float32, optional
        Weight per class; the sample weight of a mix is the mix of the two weights.

    Returns
    -------
    inputs, targets : tensor
        Mixed, same shapes.
    sample_weight : tensor, shape (n,), or None
        Only with ``class_weight``.
    """
    import tensorflow as tf

    seed = tf.cast(seed, tf.int64)
    n = tf.shape(inputs)[0]
    partner = tf.random.experimental.stateless_shuffle(tf.range(n), seed=seed)
    gamma_a = tf.random.stateless_gamma([n], seed=seed + [0, 1], alpha=alpha)
    gamma_b = tf.random.stateless_gamma([n], seed=seed + [0, 2], alpha=alpha)
    lam = gamma_a / tf.maximum(gamma_a + gamma_b, 1e-12)
    lam = tf.maximum(lam, 1.0 - lam)
    lam_inputs = tf.reshape(lam, tf.concat([[n], tf.ones([tf.rank(inputs) - 1], tf.int32)], axis=0))
    mixed_inputs = lam_inputs * inputs + (1.0 - lam_inputs) * tf.gather(inputs, partner)
    mixed_targets = lam[:, None] * targets + (1.0 - lam[:, None]) * tf.gather(targets, partner)
    if class_weight is None:
        return mixed_inputs, mixed_targets, None
    own = tf.linalg.matvec(targets, class_weight)  # each row's class weight (one-hot targets)
    return mixed_inputs, mixed_targets, lam * own + (1.0 - lam) * tf.gather(own, partner)


def class_weight_vector(class_weight: dict[int, float] | None, n_classes: int) -> np.ndarray | None:
    """``{class id: weight}`` (as for ``fit(class_weight=...)``) -> float32 ``(n_classes,)``, 1 elsewhere."""
    if not class_weight:
        return None
    weights = np.ones(n_classes, dtype=np.float32)
    for class_id, weight in class_weight.items():
        weights[int(class_id)] = weight
    return weights


def mixup_dataset(inputs: np.ndarray, targets: np.ndarray, batch_size: int, alpha: float, seed: int,
                  class_weight: dict[int, float] | None = None) -> Any:
    """Shuffled, mixed training batches for ``keras.Model.fit``.

    Parameters
    ----------
    inputs : ndarray, shape (n, ...), float32
    targets : ndarray, shape (n, n_classes)
        One-hot targets.
    batch_size : int
    alpha : float
        Beta(alpha, alpha) parameter of :func:`mix_batch`.
    seed : int
        Seeds the per-epoch shuffling and the mixes.
    class_weight : dict[int, float], optional
        Class id -> weight, turned into per-sample weights of the mixes.

    Returns
    -------
    tf.data.Dataset
        ``ceil(n / batch_size)`` batches per pass, reshuffled and redrawn every pass; elements
        ``(inputs, targets)`` or, with class weights, ``(inputs, targets, sample_weight)``.
    """
    import tensorflow as tf

    weights = class_weight_vector(class_weight, targets.shape[1])
    samples = tf.data.Dataset.from_tensor_slices((inputs.astype(np.float32, copy=False),
                                                  targets.astype(np.float32, copy=False)))
    batches = samples.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    # one random pair of int64 per batch and pass: seeds of the stateless mix
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    pairs = tf.data.Dataset.zip((batches, seeds))

    def mix(batch, batch_seed):
        x, y, w = mix_batch(batch[0], batch[1], alpha, batch_seed, weights)
        return (x, y) if w is None else (x, y, w)

    return pairs.map(mix).prefetch(2)
