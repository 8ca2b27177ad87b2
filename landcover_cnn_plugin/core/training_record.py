"""What a training leaves behind: the model file's metadata and the train job's result."""

from __future__ import annotations

from typing import Any

from .metrics import FIGURES


def training_metadata(trainer: Any, total_seconds: float) -> dict[str, Any]:
    """The model file's metadata (docs/DESIGN.md) of a fitted ``LandcoverTrainer``.

    ``training`` holds the resolved settings and how the fit went; ``split`` the protocol, the
    class counts of each part and their polygons; ``metrics`` the test figures (with their 95 %
    intervals); ``warnings`` what limits them; ``cross_validation`` and ``model_choice`` the folds
    and the automatic choice's comparison where they ran.
    """
    run, family, legend, table, split = trainer.run_, trainer.family_, trainer.legend_, trainer.table_, \
        trainer.split_
    fitted = run.fitted
    training = trainer.settings_.to_dict()
    training.update({"epochs_run": fitted.epochs_run, "best_epoch": fitted.best_epoch,
                     "fit_seconds": round(fitted.fit_seconds, 2), "total_seconds": round(total_seconds, 2),
                     "n_dropped_rows": table.n_dropped,
                     "label_smoothing": family.defaults.label_smoothing,
                     "mixup_alpha": family.defaults.mixup_alpha,
                     "balanced_train_counts": run.train_counts_balanced,
                     "class_weight": ({str(legend.codes[k]): v for k, v in run.class_weight.items()}
                                      if run.class_weight else None)})
    return {"model_type": family.name, "feature_names": list(table.feature_names),
            "patch_size": int(trainer.patch_size_), "derived_features": trainer.derived_features_,
            "scaler": run.scaler.to_dict(), "legend": legend.to_dict(), "training": training,
            "split": split.to_dict(table.codes) | {"warnings": list(split.warnings),
                                                   "polygons": trainer.polygon_counts_},
            "metrics": trainer.metrics_, "warnings": list(trainer.warnings_), "history": fitted.history,
            "cross_validation": trainer.cv_results_,
            "model_choice": trainer.choice_.to_dict() if trainer.choice_ else None}


def job_result(trainer: Any, model_path: str | None = None) -> dict[str, Any]:
    """The train job's result (JSON-ready) of a fitted ``LandcoverTrainer``."""
    metrics, split, table = trainer.metrics_, trainer.split_, trainer.table_
    result = {"model": model_path, **{key: metrics[key] for key in FIGURES},
              "intervals": {key: metrics["intervals"][key] for key in FIGURES},
              "n_train": int(len(split.train)), "n_validation": int(len(split.validation)),
              "n_test": int(len(split.test)), "epochs_run": trainer.epochs_run_,
              "split_protocol": split.protocol, "cv_folds": split.cv_folds,
              "model_type": trainer.family_.name,
              "feature_names": list(table.feature_names), "n_classes": trainer.legend_.n_classes,
              "n_dropped_rows": table.n_dropped, "fit_seconds": round(trainer.fit_seconds_, 2),
              "warnings": list(trainer.warnings_)}
    if trainer.cv_results_:
        result["cross_validation"] = trainer.cv_results_["summary"]
    if trainer.choice_:
        result["model_choice"] = {row["model_type"]: row["score"] for row in trainer.choice_.rows}
    return result
