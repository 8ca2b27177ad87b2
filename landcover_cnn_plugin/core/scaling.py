"""Z-score scaling learned on the training part (NumPy only; usable in the QGIS process)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .errors import UserInputError


class ZScoreScaler:
    """Per-feature z-score: ``(x - mean_) / std_``, statistics from the training rows only.

    A constant feature (std 0) gets ``std_ = 1`` so that it scales to 0 instead of NaN.
    Invalid (nodata) values are set to 0 after scaling, i.e. filled with the training mean.

    Attributes
    ----------
    mean_ : ndarray, shape (n_features,), float64
        Mean of each feature over the training rows (feature units, e.g. DN).
    std_ : ndarray, shape (n_features,), float64
        Population standard deviation (ddof=0) of each feature over the training rows.
    """

    def fit(self, features: np.ndarray) -> ZScoreScaler:
        """Learn mean and std from ``features`` (n, n_features), the training rows."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or len(features) == 0:
            raise ValueError(f"expected a non-empty (n, n_features) array, got shape {features.shape}")
        self.mean_ = features.mean(axis=0)
        std = features.std(axis=0)
        self.std_ = np.where(std > 0, std, 1.0)
        return self

    @property
    def n_features(self) -> int:
        return len(self.mean_)

    def transform(self, features: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Scale ``features`` (..., n_features) to float32; rows where ``valid`` is False -> 0.

        Parameters
        ----------
        features : ndarray, shape (..., n_features)
            Raw values in the units of the training data.
        valid : ndarray of bool, shape (...), optional
            False where any input is nodata; also NaN inputs become 0.
        """
        features = np.asarray(features)
        if features.shape[-1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got {features.shape[-1]}")
        scaled = ((features - self.mean_.astype(np.float32)) / self.std_.astype(np.float32)).astype(
            np.float32, copy=False)
        if valid is not None:
            scaled[~np.asarray(valid, dtype=bool)] = 0.0
        np.nan_to_num(scaled, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        return scaled

    def to_dict(self) -> dict[str, list[float]]:
        """``{"mean": [...], "std": [...]}`` (the model file's ``scaler``)."""
        return {"mean": [float(v) for v in self.mean_], "std": [float(v) for v in self.std_]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[float]]) -> ZScoreScaler:
        """Inverse of :meth:`to_dict`."""
        try:
            mean = np.asarray(data["mean"], dtype=np.float64)
            std = np.asarray(data["std"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise UserInputError(f"the scaler statistics are incomplete or not numbers ({exc}).",
                                 "MODEL") from exc
        if mean.ndim != 1 or mean.shape != std.shape or not np.all(np.isfinite(mean)) \
                or not np.all(std > 0):
            raise UserInputError("the scaler statistics are invalid (lengths differ, or std <= 0).",
                                 "MODEL")
        scaler = cls()
        scaler.mean_, scaler.std_ = mean, std
        return scaler
