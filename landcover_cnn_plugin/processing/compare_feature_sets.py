"""Compare feature sets: the same model, split and seed trained on several band subsets (worker)."""

from __future__ import annotations

from qgis.core import QgsProcessingParameterFileDestination, QgsProcessingParameterString

from ..core.errors import UserInputError
from .base import LandcoverAlgorithm
from .training_parameters import TRAINING_HELP, TrainingParameters


class CompareFeatureSetsAlgorithm(TrainingParameters, LandcoverAlgorithm):
    NAME = "comparefeaturesets"
    DISPLAY_NAME = "Compare feature sets"
    GROUP_ID = "training"
    HELP = (
        "This algorithm trains the same model with the same split and seed on several feature "
        "sets (for example the Sentinel-2 bands alone, then with the SAR phase band Phi) and "
        "writes one table of accuracy figures: the way to prove that a new data source helps.\n\n"
        "<b>Feature sets</b>: sets separated by ';', columns within a set by ',', e.g. "
        "'B03,B04,B05,B06,B07,B08,B8A,B11,B12;B03,B04,B05,B06,B07,B08,B8A,B11,B12,Phi'.\n"
        "<b>Set names</b> (optional): one per set, separated by ';', e.g. 'S2;S2+Phi'.\n\n"
        + TRAINING_HELP + "\n\n<b>Table</b>: CSV, one row per feature set (overall accuracy, kappa, "
        "macro F1). <b>Report</b>: HTML with the table and a bar chart."
    )
    FEATURE_SETS = "FEATURE_SETS"
    SET_NAMES = "SET_NAMES"
    OUTPUT_TABLE = "OUTPUT_TABLE"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    FILE_OUTPUTS = (OUTPUT_TABLE, OUTPUT_REPORT)

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_training_parameters(with_features=False)
        self.addParameter(QgsProcessingParameterString(
            self.FEATURE_SETS, self.tr("Feature sets (';' between sets, ',' between columns)")))
        self.addParameter(QgsProcessingParameterString(self.SET_NAMES, self.tr("Set names (';')"),
                                                       optional=True))
        self.add_product_output(QgsProcessingParameterFileDestination(
            self.OUTPUT_TABLE, self.tr("Comparison table"), "CSV files (*.csv)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_REPORT, self.tr("Comparison report"), "HTML files (*.html)", optional=True))

    def feature_sets(self, parameters, context) -> tuple[list[list[str]], list[str]]:
        text = self.parameterAsString(parameters, self.FEATURE_SETS, context)
        sets = [self.split_list(part) for part in text.split(";") if part.strip()]
        names = [n.strip() for n in self.parameterAsString(parameters, self.SET_NAMES, context).split(";")
                 if n.strip()]
        if len(sets) < 2:
            raise UserInputError(f"give at least two feature sets separated by ';' (got {len(sets)}).",
                                 self.FEATURE_SETS)
        if names and len(names) != len(sets):
            raise UserInputError(f"{len(names)} set names for {len(sets)} feature sets; give one name "
                                 "per set or none.", self.SET_NAMES)
        return sets, names

    def check_parameters(self, parameters, context):
        sets, _ = self.feature_sets(parameters, context)
        path = self.parameterAsFile(parameters, self.INPUT, context)
        if path.lower().endswith(".csv"):
            header = self.csv_header(path)
            missing = sorted({f for s in sets for f in s if f not in header})
            if missing:
                return (f"{self.FEATURE_SETS}: the samples file has no columns {missing}; its "
                        f"columns are {header}.")
        ok, message = self.check_training_values(parameters, context)
        return None if ok else message

    def process(self, parameters, context, feedback):
        sets, names = self.feature_sets(parameters, context)
        paths = self.output_paths(parameters, context, self.FILE_OUTPUTS)
        args = self.training_arguments(parameters, context, self.samples_csv(parameters, context, feedback))
        args += self.option_arguments({"--feature-sets": ";".join(",".join(s) for s in sets),
                                       "--output-table": paths[self.OUTPUT_TABLE],
                                       "--set-names": ";".join(names),
                                       "--report": paths[self.OUTPUT_REPORT]})
        self.run_worker("compare", args, feedback, outputs=list(paths.values()))
        return {name: path for name, path in paths.items() if path}
