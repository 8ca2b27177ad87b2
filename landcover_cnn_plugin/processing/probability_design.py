"""The sampling design of 'Assess map accuracy': checks and the worker arguments of a probability sample.

Kept apart from ``assess_accuracy.py`` so that the polygon/point agreement path stays as it was;
the work is in ``core.probability_sample`` (reading and checking the sample) and the worker's
``assess`` job (``core.area_report``: estimates, CSVs, report).
"""

from __future__ import annotations

import os

from qgis.core import QgsProcessingParameterEnum, QgsWkbTypes

from ..core.accuracy import map_legend, write_pairs_csv
from ..core.errors import UserInputError
from ..core.probability_sample import DESIGNS, STRATUM_FIELDS, read_probability_sample, resolve_design
from ..core.progress import ScaledReporter
from ..core.sample_design import open_class_map, write_strata_csv
from .data_preparation import FeedbackReporter, point_layer_for_ogr

SAMPLING_DESIGN = "SAMPLING_DESIGN"
DESIGN_LABELS = ["Automatic: stratified for points from 'Stratified random points', else not a "
                 "probability sample", "Stratified random, the map classes as strata", "Simple random",
                 "Not a probability sample (polygons, points placed by hand)"]
PROBABILITY_DESIGNS = ("stratified", "simple_random")
NO_ESTIMATE_REASON = (
    "not computed: the reference data is not a probability sample of the map (polygons, or points "
    "not drawn at random), so its counts cannot be weighted up to the map's area and the figures "
    "describe agreement on these sites only. Draw points with 'Stratified random points', label "
    "them and assess with them to get each class's area and the accuracies with 95 % confidence "
    "intervals.")


def design_parameter(algorithm) -> QgsProcessingParameterEnum:
    return QgsProcessingParameterEnum(SAMPLING_DESIGN, algorithm.tr("Sampling design of the reference"),
                                      DESIGN_LABELS, defaultValue=0)


def chosen_design(algorithm, parameters, context, source) -> str:
    """The design: ``auto`` resolved by the reference layer's geometry and fields."""
    index = algorithm.parameterAsEnum(parameters, SAMPLING_DESIGN, context)
    is_points = source is not None and QgsWkbTypes.geometryType(source.wkbType()) == QgsWkbTypes.PointGeometry
    names = source.fields().names() if source is not None else []
    return resolve_design(DESIGNS[index], names, is_points)


def design_problem(algorithm, parameters, context, source, map_path: str | None) -> str | None:
    """Why the chosen design cannot be used with these inputs (a message naming the parameter), or None."""
    design = chosen_design(algorithm, parameters, context, source)
    if design not in PROBABILITY_DESIGNS or source is None:
        return None
    if QgsWkbTypes.geometryType(source.wkbType()) != QgsWkbTypes.PointGeometry:
        return (f"{SAMPLING_DESIGN}: reference polygons are not a probability sample of the map's pixels; "
                "choose 'Not a probability sample' (agreement without area estimates), or draw points "
                "with 'Stratified random points', label them and assess with those.")
    missing = [name for name in STRATUM_FIELDS if source.fields().lookupField(name) < 0]
    if design == "stratified" and missing:
        return (f"REFERENCE: a stratified sample needs the fields {', '.join(STRATUM_FIELDS)} that "
                f"'Stratified random points' writes; these points lack {', '.join(missing)}. Draw the "
                "points with that algorithm, or choose the design 'Simple random' if they were drawn "
                "at random over the whole map.")
    try:
        if map_path:
            open_class_map(map_path, "INPUT")
    except UserInputError as exc:
        return str(exc)
    return None


def probability_sample_args(algorithm, parameters, context, feedback, layer, field: str, design: str,
                            folder: str, tag: str) -> list[str]:
    """Read and check the labelled sample; write its pairs and strata CSVs; the worker's arguments.

    Raises UserInputError (named parameter) for a sample that does not fit the map.
    """
    class_map = open_class_map(layer.source(), "INPUT")
    path, layer_name = point_layer_for_ogr(algorithm, parameters, "REFERENCE", layer.crs(), context, feedback)
    legend = map_legend(class_map.path) or {}
    if design == "simple_random":
        feedback.pushInfo("Counting the pixels of each map class (the post-strata)")
    sample = read_probability_sample(path, layer_name, field, class_map, design, legend.get("codes", []),
                                     ScaledReporter(FeedbackReporter(feedback), 5, 45), feedback.isCanceled)
    if sample.unlabelled:
        feedback.pushWarning(f"{sample.unlabelled} of {sample.points} points have no reference code in "
                             f"'{field}' and are left out (non-response).")
    pairs = write_pairs_csv(os.path.join(folder, f"pairs_{tag}.csv"), sample.pairs)
    strata = write_strata_csv(os.path.join(folder, f"strata_{tag}.csv"), sample.stratum_pixels)
    return ["--pairs", pairs, "--strata", strata, "--design", design]
