"""The provider's algorithms: one class per module, in Toolbox order (add a new one here)."""

from __future__ import annotations

from .assess_accuracy import AssessAccuracyAlgorithm
from .base import LandcoverAlgorithm
from .check_environment import CheckEnvironmentAlgorithm
from .classify_image import ClassifyImageAlgorithm
from .compare_feature_sets import CompareFeatureSetsAlgorithm
from .export_model import ExportModelAlgorithm
from .extract_samples import ExtractSamplesAlgorithm
from .install_environment import InstallEnvironmentAlgorithm
from .rasterize_polygons import RasterizePolygonsAlgorithm
from .regular_points import RegularPointsAlgorithm
from .sample_points import SamplePointsAlgorithm
from .stack_rasters import StackRastersAlgorithm
from .stratified_points import StratifiedPointsAlgorithm
from .suggest_points import SuggestPointsAlgorithm
from .train_model import TrainModelAlgorithm

ALGORITHM_CLASSES: tuple[type[LandcoverAlgorithm], ...] = (
    StackRastersAlgorithm,
    RasterizePolygonsAlgorithm,
    RegularPointsAlgorithm,
    SamplePointsAlgorithm,
    ExtractSamplesAlgorithm,
    InstallEnvironmentAlgorithm,
    CheckEnvironmentAlgorithm,
    TrainModelAlgorithm,
    CompareFeatureSetsAlgorithm,
    ExportModelAlgorithm,
    SuggestPointsAlgorithm,
    ClassifyImageAlgorithm,
    StratifiedPointsAlgorithm,
    AssessAccuracyAlgorithm,
)
