"""What a training leaves behind: the model file's metadata and the train job's result."""

from __future__ import annotations

from typing import Any

from .legend import ClassLegend
from .models.base import InputProvider, ModelFamily
from .splits import SplitIndices
from .training_run import TrainingRun


def training_metadata(settings: Any, family: ModelFamily, table: Any, legend: ClassLegend,
                      split: SplitIndices, provider: InputProvider, run: TrainingRun, metrics: dict[str, Any],
                      cv_results: dict[str, Any] | None, total_seconds: float) -> dict[str, Any]:
    """The model file's metadata (docs/DESIGN.md) of a finished training.

    ``training`` holds the resolved settings and how the fit went; ``split`` the protocol and
    the class counts of each part; ``metrics`` the test part's figures.
    """
    fitted = run.fitted
    training = settings.to_dict()
    training.update({"epochs_run": fitted.epochs_run, "best_epoch": fitted.best_epoch,
                     "fit_seconds": round(fitted.fit_seconds, 2), "total_seconds": round(total_seconds, 2),
                     "n_dropped_rows": table.n_dropped,
                     "label_smoothing": family.defaults.label_smoothing,
                     "mixup_alpha": family.defaults.mixup_alpha,
                     "balanced_train_counts": run.train_counts_balanced,
                     "class_weight": ({str(legend.codes[k]): v for k, v in run.class_weight.items()}
                                      if run.class_weight else None)})
    return {"model_type": family.name, "feature_names": list(table.feature_names),
            "patch_size": int(provider.patch_size), "derived_features": provider.derived_features,
            "scaler": run.scaler.to_dict(), "legend": legend.to_dict(), "training": training,
            "split": split.to_dict(table.codes) | {"warnings": list(split.warnings)},
            "metrics": metrics, "history": fitted.history, "cross_validation": cv_results}


def job_result(trainer: Any, model_path: str | None = None) -> dict[str, Any]:
    """The train job's result (JSON-ready) of a fitted ``LandcoverTrainer``."""
    metrics, split, table = trainer.metrics_, trainer.split_, trainer.table_
    result = {"model": model_path, "overall_accuracy": metrics["overall_accuracy"],
              "kappa": metrics["kappa"], "macro_f1": metrics["macro_f1"],
              "n_train": int(len(split.train)), "n_validation": int(len(split.validation)),
              "n_test": int(len(split.test)), "epochs_run": trainer.epochs_run_,
              "split_protocol": split.protocol, "model_type": trainer.family_.name,
              "feature_names": list(table.feature_names), "n_classes": trainer.legend_.n_classes,
              "n_dropped_rows": table.n_dropped, "fit_seconds": round(trainer.fit_seconds_, 2)}
    if trainer.cv_results_:
        result["cross_validation"] = trainer.cv_results_["summary"]
    return result
