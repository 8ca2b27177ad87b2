"""Parameters shared by 'Train land cover model' and 'Compare feature sets' (one place, same names)."""

from __future__ import annotations

import csv
import os

from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingUtils,
)

from ..core.errors import UserInputError
from ..core.indices import AUTO_DERIVED
from ..core.indices import DERIVED_FEATURES as DERIVED_CHOICES
from ..core.models import AUTO_MODEL, DEFAULT_MODEL, MODEL_TYPES, PATCH_MODEL
from ..core.samples import NAME_COLUMNS

# "auto" is appended last, so that the indices of the named models stay stable (the .model3 uses them).
MODEL_TYPE_KEYS = [*MODEL_TYPES, AUTO_MODEL]
MODEL_TYPE_LABELS = [*MODEL_TYPES, f"Automatic: {PATCH_MODEL} when the stack raster is given, "
                                   f"else {DEFAULT_MODEL}"]
SPLITS = ["group", "random"]
SPLIT_LABELS = ["Grouped by polygon (no polygon in both training and test)", "Stratified random"]
BALANCES = ["none", "class_weights", "to_n", "smote", "auto"]
BALANCE_LABELS = ["None", "Class weights", "Resample to N per class (the study's way)",
                  "SMOTE (synthetic minority over-sampling)",
                  "Automatic: the model's benchmarked choice (class weights per pixel, none for patch_cnn)"]
# "auto" first: the default, the model type's own benchmarked choice
DERIVED_KEYS = [AUTO_DERIVED, *DERIVED_CHOICES]
DERIVED_LABELS = ["Automatic: the model's benchmarked choice (none at present)",
                  "None (the bands only)", "Normalized differences of every band pair"]

TRAINING_HELP = (
    "<b>Samples</b>: the samples CSV from 'Sample rasters to CSV' or 'Extract training samples' "
    "(columns X, Y, one per band, the label, polygon_id, Latitude, Longitude), or a vector file "
    "whose attribute table has those columns.\n"
    "<b>Feature columns</b>: comma-separated band columns to use (default: every column that is "
    "not X, Y, label, class name, polygon_id, Latitude, Longitude).\n"
    "<b>Label column</b>: integer class codes (default 'code').\n"
    "<b>Group column</b>: samples sharing a value (a polygon) stay together in training or in test "
    "(default 'polygon_id' when the file has it).\n"
    "<b>Class name column</b> / <b>Legend CSV</b> (code,name,color): names and colours of the "
    "classes (default: the 'fclass' or 'name' column when present).\n"
    "<b>Model</b>: spectral_cnn (1-D convolutions along the bands), study_mlp (the "
    "study's dense 512-256-128-64 network), patch_cnn (2-D CNN on a square patch around each "
    "pixel; needs the stack raster and a patch size; the most accurate in our benchmark), or "
    "Automatic (default): patch_cnn when you give the stack raster, else spectral_cnn.\n"
    "<b>Split</b>: grouped by polygon (honest accuracy for unseen areas) or stratified random "
    "(optimistic: neighbouring pixels of one polygon end up in training and test). "
    "<b>Test fraction</b>: share of samples (or polygons) held out for the accuracy figures "
    "(default 0.2); the validation part for early stopping comes out of the training part.\n"
    "<b>Balancing</b> (training part only): none, class weights, resample to N per class (default "
    "N = 500, the study's choice), SMOTE, or Automatic (default): class weights for the per-pixel "
    "models, none for patch_cnn (what measured best).\n"
    "<b>Derived inputs</b> (advanced): the normalized difference of every band pair (like NDVI), "
    "computed before scaling and fed to the network beside the bands; Automatic (default): the "
    "model's benchmarked choice, at present none (they did not pay off on the sample scene).\n"
    "<b>Epochs</b> (maximum, default 200), <b>batch size</b> (60), <b>patience</b> (epochs without "
    "improvement of the validation loss before stopping, 20), <b>seed</b> (42: same seed, same "
    "result).\n"
    "Training runs in the worker process (the Python with TensorFlow); progress shows per epoch "
    "and cancel stops it without leaving files."
)


class TrainingParameters:
    """Mixin: adds the training parameters and turns them into worker options."""

    INPUT = "INPUT"
    FEATURES = "FEATURES"
    LABEL = "LABEL"
    GROUP = "GROUP"
    NAMES_FIELD = "NAMES_FIELD"
    LEGEND = "LEGEND"
    MODEL_TYPE = "MODEL_TYPE"
    RASTER = "RASTER"
    PATCH_SIZE = "PATCH_SIZE"
    SPLIT = "SPLIT"
    TEST_FRACTION = "TEST_FRACTION"
    BALANCE = "BALANCE"
    SAMPLES_PER_CLASS = "SAMPLES_PER_CLASS"
    EPOCHS = "EPOCHS"
    BATCH_SIZE = "BATCH_SIZE"
    PATIENCE = "PATIENCE"
    SEED = "SEED"
    NO_GROUPS = "NO_GROUPS"
    DERIVED_FEATURES = "DERIVED_FEATURES"

    def add_training_parameters(self, with_features: bool = True) -> None:
        self.addParameter(QgsProcessingParameterFile(
            self.INPUT, self.tr("Samples (CSV or vector file)"),
            fileFilter="CSV files (*.csv);;Vector files (*.gpkg *.shp *.geojson);;All files (*.*)"))
        if with_features:
            self.addParameter(QgsProcessingParameterString(
                self.FEATURES, self.tr("Feature columns (comma-separated; empty = all band columns)"),
                optional=True))
        self.addParameter(QgsProcessingParameterString(self.LABEL, self.tr("Label column (class codes)"),
                                                       "code"))
        group = QgsProcessingParameterString(self.GROUP, self.tr("Group column"), "polygon_id",
                                             optional=True)
        self.addParameter(group)
        self.addParameter(QgsProcessingParameterString(
            self.NAMES_FIELD, self.tr("Class name column (empty = fclass/name when present)"),
            optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.LEGEND, self.tr("Legend CSV (code,name,color)"), optional=True,
            fileFilter="CSV files (*.csv)"))
        self.addParameter(QgsProcessingParameterEnum(
            self.MODEL_TYPE, self.tr("Model"), MODEL_TYPE_LABELS,
            defaultValue=MODEL_TYPE_KEYS.index(AUTO_MODEL)))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.RASTER, self.tr("Stack raster the samples come from (patch_cnn)"), optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.PATCH_SIZE, self.tr("Patch size (pixels, odd; patch_cnn only)"),
            QgsProcessingParameterNumber.Integer, 7, minValue=3, maxValue=63))
        self.addParameter(QgsProcessingParameterEnum(self.SPLIT, self.tr("Split"), SPLIT_LABELS,
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.TEST_FRACTION, self.tr("Test fraction"), QgsProcessingParameterNumber.Double, 0.2,
            minValue=0.05, maxValue=0.5))
        self.addParameter(QgsProcessingParameterEnum(self.BALANCE, self.tr("Balancing"),
                                                     BALANCE_LABELS, defaultValue=BALANCES.index("auto")))
        advanced = [
            QgsProcessingParameterNumber(self.SAMPLES_PER_CLASS, self.tr("Samples per class (N)"),
                                         QgsProcessingParameterNumber.Integer, 500, minValue=2),
            QgsProcessingParameterNumber(self.EPOCHS, self.tr("Maximum epochs"),
                                         QgsProcessingParameterNumber.Integer, 200, minValue=1),
            QgsProcessingParameterNumber(self.BATCH_SIZE, self.tr("Batch size"),
                                         QgsProcessingParameterNumber.Integer, 60, minValue=1),
            QgsProcessingParameterNumber(self.PATIENCE, self.tr("Patience (epochs)"),
                                         QgsProcessingParameterNumber.Integer, 20, minValue=1),
            QgsProcessingParameterNumber(self.SEED, self.tr("Random seed"),
                                         QgsProcessingParameterNumber.Integer, 42),
            QgsProcessingParameterBoolean(self.NO_GROUPS, self.tr("Ignore the group column"), False),
            QgsProcessingParameterEnum(self.DERIVED_FEATURES, self.tr("Derived inputs"), DERIVED_LABELS,
                                       defaultValue=DERIVED_KEYS.index(AUTO_DERIVED)),
        ]
        for parameter in advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)

    def samples_csv(self, parameters, context, feedback) -> str:
        """The samples as a CSV path: the file itself, or a vector file's attributes exported."""
        path = self.parameterAsFile(parameters, self.INPUT, context)
        if not path or not os.path.isfile(path):
            raise UserInputError(f"the samples file {path!r} does not exist; choose the CSV from "
                                 "'Sample rasters to CSV'.", self.INPUT)
        if path.lower().endswith((".csv", ".txt")):
            return path
        from osgeo import gdal

        gdal.UseExceptions()
        target = os.path.join(QgsProcessingUtils.tempFolder(), f"samples_{os.getpid()}_{id(self)}.csv")
        try:
            gdal.VectorTranslate(target, path, format="CSV")
        except RuntimeError as exc:
            raise UserInputError(f"cannot read {path} as a table ({exc}); choose a CSV or a vector "
                                 "file with the samples' attributes.", self.INPUT) from None
        feedback.pushInfo(f"Attributes of {path} exported to {target}")
        return target

    @staticmethod
    def csv_header(path: str) -> list[str]:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle), [])

    def check_training_values(self, parameters, context) -> tuple[bool, str]:
        """Header checks without reading the whole file (label, group, features present)."""
        path = self.parameterAsFile(parameters, self.INPUT, context)
        if not path or not os.path.isfile(path):
            return False, f"{self.INPUT}: the samples file {path!r} does not exist."
        if not path.lower().endswith((".csv", ".txt")):
            return True, ""
        header = self.csv_header(path)
        label = self.parameterAsString(parameters, self.LABEL, context)
        if label not in header:
            return False, (f"{self.LABEL}: the samples file has no column {label!r}; its columns are "
                           f"{header}. Give the column with the class codes.")
        features = self.parameterAsString(parameters, self.FEATURES, context) \
            if self.parameterDefinition(self.FEATURES) else ""
        missing = [f for f in self.split_list(features) if f not in header]
        if missing:
            return False, (f"{self.FEATURES}: the samples file has no columns {missing}; its columns "
                           f"are {header}.")
        model_type = MODEL_TYPE_KEYS[self.parameterAsEnum(parameters, self.MODEL_TYPE, context)]
        if model_type == PATCH_MODEL and self.parameterAsRasterLayer(parameters, self.RASTER,
                                                                     context) is None:
            return False, (f"{self.RASTER}: the patch_cnn model cuts patches from the stack raster; "
                           "choose the raster the samples were taken from.")
        return True, ""

    @staticmethod
    def split_list(text: str) -> list[str]:
        return [item.strip() for item in (text or "").split(",") if item.strip()]

    def training_arguments(self, parameters, context, samples: str) -> list[str]:
        """Worker options shared by the train and compare jobs."""
        header = self.csv_header(samples)
        label = self.parameterAsString(parameters, self.LABEL, context)
        group = self.parameterAsString(parameters, self.GROUP, context)
        if self.parameterAsBool(parameters, self.NO_GROUPS, context) or group not in header:
            group = ""
        names = self.parameterAsString(parameters, self.NAMES_FIELD, context)
        if not names:
            names = next((c for c in NAME_COLUMNS if c in header), "")
        model_type = MODEL_TYPE_KEYS[self.parameterAsEnum(parameters, self.MODEL_TYPE, context)]
        args = ["--samples", samples, "--label", label, "--group", group,
                "--model-type", model_type,
                "--split", SPLITS[self.parameterAsEnum(parameters, self.SPLIT, context)],
                "--test-fraction", str(self.parameterAsDouble(parameters, self.TEST_FRACTION, context)),
                "--balance", BALANCES[self.parameterAsEnum(parameters, self.BALANCE, context)],
                "--samples-per-class", str(self.parameterAsInt(parameters, self.SAMPLES_PER_CLASS, context)),
                "--epochs", str(self.parameterAsInt(parameters, self.EPOCHS, context)),
                "--batch-size", str(self.parameterAsInt(parameters, self.BATCH_SIZE, context)),
                "--patience", str(self.parameterAsInt(parameters, self.PATIENCE, context)),
                "--seed", str(self.parameterAsInt(parameters, self.SEED, context)),
                "--derived-features",
                DERIVED_KEYS[self.parameterAsEnum(parameters, self.DERIVED_FEATURES, context)]]
        if names:
            args += ["--names-field", names]
        legend = self.parameterAsFile(parameters, self.LEGEND, context)
        if legend:
            args += ["--legend", legend]
        raster = self.parameterAsRasterLayer(parameters, self.RASTER, context)
        if model_type == PATCH_MODEL and raster is None:
            raise UserInputError("the patch_cnn model needs the stack raster.", self.RASTER)
        if raster is not None and model_type in (PATCH_MODEL, AUTO_MODEL):
            args += ["--raster", raster.source(),
                     "--patch-size", str(self.parameterAsInt(parameters, self.PATCH_SIZE, context))]
        return args
