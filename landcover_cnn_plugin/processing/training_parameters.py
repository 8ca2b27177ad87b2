"""Parameters shared by 'Train land cover model' and 'Compare feature sets' (one place, same names)."""

from __future__ import annotations

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

from ..core.csv_format import detect_csv_format
from ..core.errors import UserInputError
from ..core.models import AUTO_MODEL, MODEL_CHOICES, family
from ..core.settings import SettingSpec, training_options

TRAINING_HELP = (
    "<b>Samples</b>: the samples CSV from 'Sample rasters to CSV' or 'Extract training samples' "
    "(columns X, Y, one per band, the label, polygon_id, polygon_part, Latitude, Longitude), or a "
    "vector file whose attribute table has those columns. A CSV is read as it was saved: ',' ';' or "
    "tab between the fields, decimal point or comma, UTF-8 with or without BOM, quoted fields (the "
    "log says what was found).\n"
    "<b>Feature columns</b>: comma-separated band columns to use (default: every column that is "
    "not X, Y, label, class name, polygon_id, polygon_part, Latitude, Longitude).\n"
    "<b>Label column</b>: integer class codes (default 'code'), or class names as text (e.g. 'Roof'): "
    "these get the codes 1, 2, ... in alphabetical order, or those of the legend CSV, and keep "
    "their names in the report, the model file and the map's legend.\n"
    "<b>Group column</b>: samples sharing a value (a polygon) stay together in training or in test "
    "(default 'polygon_id' when the file has it; with a 'polygon_part' column each part of a "
    "multi-part feature is a group of its own, and points sampled without polygons are each their "
    "own group). A class whose polygons would all land in the test part is refused before training, "
    "with what to do.\n"
    "<b>Class name column</b> / <b>Legend CSV</b> (code,name,color): names and colours of the "
    "classes (default: the text column right after the label, as the data preparation algorithms "
    "write it, or 'fclass', 'name' or 'class_name', when it holds one name per code).\n"
    "<b>Model</b>: Automatic (default) trains the candidates (pixel_mlp, a dense network of each "
    "pixel's bands; random_forest, a size-bounded random forest stored as ONNX; and patch_cnn, a 2-D CNN "
    "on the square patch around each pixel, when you give the stack raster) on polygon-grouped folds "
    "of your own samples and keeps the one that maps the held-out polygons best; the report shows the "
    "comparison. <b>Time for the automatic model choice</b> (minutes, default 10) bounds that "
    "comparison (whole rounds of folds); 0 trains pixel_mlp (patch_cnn with the stack raster) without "
    "comparing. Or name a model: spectral_cnn (1-D convolutions along the bands), study_mlp (the "
    "study's dense 512-256-128-64 network), patch_cnn (needs the stack raster and a patch size), "
    "pixel_mlp, random_forest.\n"
    "<b>Split</b>: grouped by polygon (honest accuracy for unseen areas) or stratified random "
    "(optimistic: neighbouring pixels of one polygon end up in training and test). "
    "<b>Test fraction</b>: share of polygons held out for the accuracy figures (default 0.2). "
    "<b>Cross-validation folds</b> (default 0): k >= 2 tests every polygon once, by the model of the "
    "fold that did not see it, reports the mean and spread over the folds and the pooled confusion "
    "matrix, then trains the delivered model on all samples (with k folds the training takes about "
    "k + 1 times as long); use it when you have few polygons, where one test part is too small to "
    "pin the figures down (the report says so). Every figure comes with its 95 % interval.\n"
    "<b>Balancing</b> (training part only): none, class weights, resample to N per class (default "
    "N = 500, the study's choice), SMOTE, or Automatic (default): the model's benchmarked choice "
    "(none: class weights lowered overall accuracy and kappa on both benchmark scenes).\n"
    "<b>Derived inputs</b> (advanced): the normalized difference of every band pair (like NDVI), "
    "computed before scaling and fed to the network beside the bands; Automatic (default): the "
    "model's benchmarked choice, at present none (they did not pay off in the benchmark).\n"
    "<b>Training schedule</b> (advanced): Automatic / cosine (default): the network trains on every "
    "training polygon for a fixed number of epochs while its learning rate decays; early stopping "
    "holds validation polygons out of the training part and stops when their loss stops improving "
    "(patience). <b>Epochs</b> (0 = the model's benchmarked number: 30, and at least 2,000 steps on "
    "small training sets), <b>batch size</b> (256), <b>seed</b> (42: same seed, same result).\n"
    "Training runs in the worker process (the Python with TensorFlow); progress shows per epoch "
    "and cancel stops it without leaving files."
)


def setting_parameter(spec: SettingSpec, translate) -> QgsProcessingParameterDefinition:
    """The Processing parameter of a training setting (name, label, default, range, choices)."""
    option = spec.option
    label = translate(option.label)
    if option.kind == "choice":
        parameter = QgsProcessingParameterEnum(option.parameter, label, list(option.choice_labels),
                                               defaultValue=option.choices.index(spec.default))
    elif option.kind == "file":
        parameter = QgsProcessingParameterFile(option.parameter, label, optional=option.optional,
                                               fileFilter=option.file_filter)
    elif option.kind == "raster":
        parameter = QgsProcessingParameterRasterLayer(option.parameter, label, optional=option.optional)
    elif spec.value_type in (int, float):
        bounds = {key: value for key, value in (("minValue", option.minimum), ("maxValue", option.maximum))
                  if value is not None}
        number_type = (QgsProcessingParameterNumber.Integer if spec.value_type is int
                       else QgsProcessingParameterNumber.Double)
        parameter = QgsProcessingParameterNumber(option.parameter, label, number_type, spec.default, **bounds)
    else:
        parameter = QgsProcessingParameterString(option.parameter, label, spec.default,
                                                 optional=option.optional)
    if option.advanced:
        parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return parameter


class TrainingParameters:
    """Mixin: adds the training parameters (from ``core.settings``) and turns them into worker options."""

    INPUT = "INPUT"
    FEATURES = "FEATURES"
    LABEL = "LABEL"
    GROUP = "GROUP"
    NAMES_FIELD = "NAMES_FIELD"
    LEGEND = "LEGEND"
    MODEL_TYPE = "MODEL_TYPE"
    RASTER = "RASTER"
    PATCH_SIZE = "PATCH_SIZE"
    NO_GROUPS = "NO_GROUPS"

    def add_training_parameters(self, with_features: bool = True) -> None:
        self.addParameter(QgsProcessingParameterFile(
            self.INPUT, self.tr("Samples (CSV or vector file)"),
            fileFilter="CSV files (*.csv);;Vector files (*.gpkg *.shp *.geojson);;All files (*.*)"))
        for spec in training_options():
            if spec.option.in_processing and (with_features or spec.option.parameter != self.FEATURES):
                self.addParameter(setting_parameter(spec, self.tr))
        no_groups = QgsProcessingParameterBoolean(self.NO_GROUPS, self.tr("Ignore the group column"), False)
        no_groups.setFlags(no_groups.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(no_groups)

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

    def csv_header(self, path: str) -> list[str]:
        """The samples CSV's columns, in whatever dialect it was saved (``core.csv_format``)."""
        return detect_csv_format(path, self.INPUT).columns

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
        if self.patch_model_without_raster(parameters, context):
            return False, (f"{self.RASTER}: the patch_cnn model cuts patches from the stack raster; "
                           "choose the raster the samples were taken from.")
        return True, ""

    @staticmethod
    def split_list(text: str) -> list[str]:
        return [item.strip() for item in (text or "").split(",") if item.strip()]

    def model_type(self, parameters, context) -> str:
        return MODEL_CHOICES[self.parameterAsEnum(parameters, self.MODEL_TYPE, context)]

    def patch_model_without_raster(self, parameters, context) -> bool:
        model_type = self.model_type(parameters, context)
        return (model_type != AUTO_MODEL and family(model_type).uses_patches
                and self.parameterAsRasterLayer(parameters, self.RASTER, context) is None)

    def training_arguments(self, parameters, context, samples: str) -> list[str]:
        """Worker options shared by the train and compare jobs (the algorithms add ``--features``)."""
        if self.patch_model_without_raster(parameters, context):
            raise UserInputError("the patch_cnn model needs the stack raster.", self.RASTER)
        header = self.csv_header(samples)
        args = ["--samples", samples]
        for spec in training_options():
            if spec.option.in_processing and spec.option.parameter != self.FEATURES:
                value = self.worker_value(spec, parameters, context, header)
                if value is not None:
                    args += [spec.flag, value]
        return args

    def worker_value(self, spec: SettingSpec, parameters, context, header: list[str]) -> str | None:
        """The worker option's value of a setting (None: leave it out, the worker's default applies)."""
        name, option = spec.option.parameter, spec.option
        if name == self.GROUP:  # none when asked, or when the samples lack the column
            group = self.parameterAsString(parameters, name, context)
            ignored = self.parameterAsBool(parameters, self.NO_GROUPS, context) or group not in header
            return "" if ignored else group
        if name in (self.RASTER, self.PATCH_SIZE):  # only where patches are cut
            raster = self.parameterAsRasterLayer(parameters, self.RASTER, context)
            model_type = self.model_type(parameters, context)
            if raster is None or not (model_type == AUTO_MODEL or family(model_type).uses_patches):
                return None
            if name == self.RASTER:
                return raster.source()
        if option.kind == "choice":
            return option.choices[self.parameterAsEnum(parameters, name, context)]
        if option.kind == "file":
            return self.parameterAsFile(parameters, name, context) or None
        if spec.value_type is int:
            return str(self.parameterAsInt(parameters, name, context))
        if spec.value_type is float:
            return str(self.parameterAsDouble(parameters, name, context))
        return self.parameterAsString(parameters, name, context) or None
